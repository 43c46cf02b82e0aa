"""MLflow made ready while the run trains, so that logging the finished run costs little.

Importing MLflow, opening its store and a process's first model log (which maps every
installed package to its modules) take seconds. A helper process
(:mod:`engine.tracking.mlflow_helper`) does them on another core while the data loads and the
model fits; :meth:`MlflowTracker.log` hands it the finished run directory and, with
``tracking.wait=true``, waits for its answer; by default the helper finishes in the background
and the command returns. A process, not a thread: MLflow's warnings stay out of the run's
warnings record and its imports do not compete for the interpreter's lock. MLflow is not
imported here.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from rich.console import Console

from engine.config.schema.tracking import TrackingConfig
from engine.errors import EngineError
from engine.tracking.files import locked_folder
from engine.tracking.records import (
    METRICS_FILE,
    RESOLVED_CONFIG_FILE,
    RUN_FILE,
    RunRecord,
    read_record,
)
from engine.tracking.registry_mirror import logged_record
from engine.tracking.run_index import run_dirs

HELPER = "engine.tracking.mlflow_helper"
WARNING_FILE = "mlflow_warning.txt"
"""Why a helper logging in the background could not log the run (``runs sync`` tries again)."""


class MlflowTracker:
    """Starts the helper at once; :meth:`log` logs the finished run directory through it.

    Until then the run directory is locked (:func:`engine.tracking.files.locked_folder`), so
    that ``runs sync`` never logs a run whose report is still being written."""

    def __init__(self, settings: TrackingConfig, project_dir: Path, run_dir: Path) -> None:
        self.settings = settings
        self._held = ExitStack()
        run_dir.mkdir(parents=True, exist_ok=True)
        self._held.enter_context(locked_folder(run_dir))
        request = {"settings": settings.model_dump(), "project_dir": str(project_dir)}
        # A session of its own: closing the terminal after the run does not stop its logging.
        self._helper = subprocess.Popen([sys.executable, "-m", HELPER, json.dumps(request)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True)

    def log(self, run_dir: Path, console: Console, *, background: bool) -> None:
        """Log ``run_dir``: in the background when the caller allows it (``background``) and
        ``tracking.wait`` does not ask to wait, else waiting for MLflow; a store that cannot be
        reached (or a helper that died) warns."""
        self.release()
        if background and not self.settings.wait and self._hand_over(run_dir):
            console.print(f"mlflow: logging the run in the background (process "
                          f"{self._helper.pid}); 'python -m engine runs sync' waits for it")
            return
        try:
            answered, errors = self._helper.communicate(
                json.dumps({"run_dir": str(run_dir)}) + "\n")
        except KeyboardInterrupt:  # the helper has a session of its own: Ctrl-C stops it here
            self._helper.kill()
            raise
        lines, said = answered.strip().splitlines(), errors.strip().splitlines()
        answer: dict[str, Any] = json.loads(lines[-1]) if lines else {
            "warning": f"the MLflow helper exited with status {self._helper.returncode}"
                       f"{': ' + said[-1] if said else ''}"}
        if "warning" in answer:
            console.print(f"[yellow]warning[/yellow]: tracking: the run was not logged to MLflow "
                          f"({answer['warning']}); the run directory {run_dir} is complete.")
            return
        logged = answer["logged"]
        console.print(f"mlflow: run {logged['run_id']} in experiment "
                      f"'{self.settings.experiment_name}' ({logged['tracking_uri']})")

    def release(self) -> None:
        """Unlock the run directory (once the run is written, or when it failed)."""
        self._held.close()

    def _hand_over(self, run_dir: Path) -> bool:
        """Give the helper the run and let it finish on its own; False when it has died (the
        caller then collects its reason)."""
        helper = self._helper
        assert helper.stdin is not None and helper.stdout is not None and helper.stderr is not None
        order = json.dumps({"run_dir": str(run_dir), "detach": True}) + "\n"
        try:  # unbuffered: a helper that is gone leaves nothing behind for the waiting path
            os.write(helper.stdin.fileno(), order.encode())
        except OSError:
            return False
        for pipe in (helper.stdin, helper.stdout, helper.stderr):
            with contextlib.suppress(OSError):
                pipe.close()
        return True


def start_tracking(settings: TrackingConfig, project_dir: Path,
                   run_dir: Path) -> MlflowTracker | None:
    """A tracker getting MLflow ready for ``run_dir``, when ``tracking=mlflow``; else None."""
    if settings.backend != "mlflow":
        return None
    return MlflowTracker(settings, project_dir, run_dir)


def mlflow_state(run_dir: Path) -> str | None:
    """Where the run stands with MLflow, for ``runs show``: logged (its run id), not logged and
    why, or not logged yet; None for a run that does not log to MLflow."""
    logged = logged_record(run_dir)
    if logged is not None:
        return f"mlflow: run {logged['run_id']} ({logged['tracking_uri']})"
    if (run_dir / WARNING_FILE).is_file():
        reason = (run_dir / WARNING_FILE).read_text(encoding="utf-8").strip()
        return f"mlflow: not logged ({reason}); 'python -m engine runs sync' tries again"
    if any(found == run_dir for found, _ in unlogged_runs(run_dir)):
        return "mlflow: not logged yet; 'python -m engine runs sync' waits for it or logs it"
    return None


def unlogged_runs(root: Path) -> Iterator[tuple[Path, TrackingConfig]]:
    """Each finished run under ``root`` whose config logs to MLflow and that is not logged yet
    (being logged in the background, its helper stopped, or its store down then), with its
    tracking settings."""
    for run_dir in run_dirs(root):
        if logged_record(run_dir) is not None or not (run_dir / METRICS_FILE).is_file():
            continue
        try:
            config = yaml.safe_load((run_dir / RESOLVED_CONFIG_FILE).read_text(encoding="utf-8"))
            tracking = config.get("tracking") or {}
            if tracking.get("backend") == "mlflow":
                read_record(run_dir / RUN_FILE, RunRecord)  # a finished run's record
                yield run_dir, TrackingConfig.model_validate(tracking)
        except (EngineError, OSError, AttributeError, yaml.YAMLError, ValidationError):
            continue  # not a run the engine can log: `runs` lists it with its problem
