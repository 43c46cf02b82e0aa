"""The process that logs a run to MLflow, started when the run starts (``python -m
engine.tracking.mlflow_helper``, by :class:`engine.tracking.mlflow_tracker.MlflowTracker`).

Its argument is the tracking settings and the project directory, as JSON. While the run
trains, it imports MLflow, opens the store and warms the model logging up, on a
core of its own and with warnings of its own; then it reads the finished run directory from
stdin and logs it. A run that waits gets one JSON line, ``{"logged": {...}}`` or
``{"warning": reason}``; one handed over (``"detach": true``) has returned already, so the
reason goes to the run's ``mlflow_warning.txt`` and nothing reaches its terminal.
End of input before a run directory (the run failed) ends it quietly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from engine.config.schema.tracking import TrackingConfig
from engine.tracking.files import write_text
from engine.tracking.mlflow_run import log_once, warm_up
from engine.tracking.mlflow_store import (
    Store,
    TrackingUnavailable,
    failure_reason,
    open_store,
)
from engine.tracking.mlflow_tracker import WARNING_FILE


def main() -> None:
    request = json.loads(sys.argv[1])
    settings = TrackingConfig.model_validate(request["settings"])
    store: Store | TrackingUnavailable
    try:
        store = _prepare(settings, Path(request["project_dir"]))
    except Exception as error:  # told with the run, which never fails for its tracking
        store = TrackingUnavailable(failure_reason(error))
    line = sys.stdin.readline()
    if not line:
        return
    order = json.loads(line)
    run_dir = Path(order["run_dir"])
    if not order.get("detach"):
        print(json.dumps(_log(run_dir, settings, store)), flush=True)
        return
    silent = os.open(os.devnull, os.O_WRONLY)
    for stream in (1, 2):  # the command has returned: its terminal is not this process's
        os.dup2(silent, stream)
    answer = _log(run_dir, settings, store)
    if "warning" in answer:
        write_text(run_dir / WARNING_FILE, f"{answer['warning']}\n")


def _prepare(settings: TrackingConfig, project_dir: Path) -> Store:
    store = open_store(settings, project_dir)
    warm_up()
    return store


def _log(run_dir: Path, settings: TrackingConfig,
         store: Store | TrackingUnavailable) -> dict[str, Any]:
    if isinstance(store, TrackingUnavailable):
        return {"warning": str(store)}
    try:
        return {"logged": log_once(run_dir, settings, store)}
    except Exception as error:  # MLflow does not wrap all of its drivers' errors
        return {"warning": failure_reason(error)}


if __name__ == "__main__":
    main()
