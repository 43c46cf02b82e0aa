"""MLflow made ready while the run trains, so that logging the finished run costs little.

Importing MLflow, opening its store and a process's first model log (which maps every
installed package to its modules) take seconds. A helper process
(:mod:`engine.tracking.mlflow_helper`) does them on another core while the data loads and the
model fits; :meth:`MlflowTracker.log` hands it the finished run directory and waits for its
answer. A process, not a thread: MLflow's warnings stay out of the run's warnings record and
its imports do not compete for the interpreter's lock. MLflow is not imported here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from engine.config.schema.tracking import TrackingConfig

HELPER = "engine.tracking.mlflow_helper"


class MlflowTracker:
    """Starts the helper at once; :meth:`log` logs the finished run directory through it."""

    def __init__(self, settings: TrackingConfig, project_dir: Path) -> None:
        self.settings = settings
        request = {"settings": settings.model_dump(), "project_dir": str(project_dir)}
        self._helper = subprocess.Popen([sys.executable, "-m", HELPER, json.dumps(request)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def log(self, run_dir: Path, console: Console) -> None:
        """Log ``run_dir``; a store that cannot be reached (or a helper that died) warns."""
        answered, _ = self._helper.communicate(json.dumps({"run_dir": str(run_dir)}) + "\n")
        lines = answered.strip().splitlines()
        answer: dict[str, Any] = json.loads(lines[-1]) if lines else {
            "warning": f"the MLflow helper exited with status {self._helper.returncode}"}
        if "warning" in answer:
            console.print(f"[yellow]warning[/yellow]: tracking: the run was not logged to MLflow "
                          f"({answer['warning']}); the run directory {run_dir} is complete.")
            return
        logged = answer["logged"]
        console.print(f"mlflow: run {logged['run_id']} in experiment "
                      f"'{self.settings.experiment_name}' ({logged['tracking_uri']})")


def start_tracking(settings: TrackingConfig, project_dir: Path) -> MlflowTracker | None:
    """A tracker getting MLflow ready, when ``tracking=mlflow``; else None."""
    return MlflowTracker(settings, project_dir) if settings.backend == "mlflow" else None
