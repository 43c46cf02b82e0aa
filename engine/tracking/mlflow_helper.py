"""The process that logs a run to MLflow, started when the run starts (``python -m
engine.tracking.mlflow_helper``, by :class:`engine.tracking.mlflow_tracker.MlflowTracker`).

Its argument is the tracking settings and the project directory, as JSON. While the run
trains, it imports MLflow, opens the store and warms the model logging up, on a
core of its own and with warnings of its own; then it reads the finished run directory from
stdin, logs it, and answers one JSON line: ``{"logged": {...}}`` or ``{"warning": reason}``.
End of input before a run directory (the run failed) ends it quietly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from engine.config.schema.tracking import TrackingConfig
from engine.errors import first_line
from engine.tracking.mlflow_run import log_run, warm_up
from engine.tracking.mlflow_store import Store, TrackingUnavailable, open_store


def main() -> None:
    request = json.loads(sys.argv[1])
    settings = TrackingConfig.model_validate(request["settings"])
    store: Store | TrackingUnavailable
    try:
        store = _prepare(settings, Path(request["project_dir"]))
    except (TrackingUnavailable, MlflowException, OSError) as error:  # told with the run
        store = TrackingUnavailable(first_line(error))
    line = sys.stdin.readline()
    if line:
        print(json.dumps(_log(Path(json.loads(line)["run_dir"]), settings, store)), flush=True)


def _prepare(settings: TrackingConfig, project_dir: Path) -> Store:
    store = open_store(settings, project_dir)
    warm_up()
    return store


def _log(run_dir: Path, settings: TrackingConfig,
         store: Store | TrackingUnavailable) -> dict[str, Any]:
    if isinstance(store, TrackingUnavailable):
        return {"warning": str(store)}
    try:
        return {"logged": log_run(run_dir, settings, store)}
    except TrackingUnavailable as error:
        return {"warning": str(error)}


if __name__ == "__main__":
    main()
