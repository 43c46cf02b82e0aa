"""``python -m engine runs sync``: each finished run under the output folder whose config logs
to MLflow and that MLflow does not have yet, logged now: one a background helper is still
logging is waited for, one whose helper was stopped or whose store was down is logged again
(what a stopped attempt left in MLflow deleted first). Imports MLflow."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from engine.config.schema.tracking import TrackingConfig
from engine.tracking.mlflow_run import log_once
from engine.tracking.mlflow_store import (
    Store,
    TrackingUnavailable,
    failure_reason,
    open_store,
    store_uri,
)


def sync_runs(runs: list[tuple[Path, TrackingConfig]], project_dir: Path,
              console: Console) -> int:
    """Log ``runs`` (from :func:`engine.tracking.mlflow_tracker.unlogged_runs`), a line each;
    how many could not be logged."""
    stores: dict[tuple[str, str], Store | TrackingUnavailable] = {}
    failed = 0
    for run_dir, settings in runs:
        key = (store_uri(settings, project_dir), settings.experiment_name)
        if key not in stores:
            stores[key] = _open(settings, project_dir)
        store = stores[key]
        try:
            if isinstance(store, TrackingUnavailable):
                raise store
            logged = log_once(run_dir, settings, store)
        except Exception as error:  # one run that cannot be logged does not stop the others
            failed += 1
            console.print(f"[yellow]warning[/yellow]: {run_dir}: not logged to MLflow "
                          f"({failure_reason(error)})", highlight=False)
            continue
        console.print(f"{run_dir}: mlflow run {logged['run_id']} in experiment "
                      f"'{settings.experiment_name}' ({logged['tracking_uri']})", highlight=False)
    return failed


def _open(settings: TrackingConfig, project_dir: Path) -> Store | TrackingUnavailable:
    try:
        return open_store(settings, project_dir)
    except Exception as error:  # MLflow does not wrap all of its drivers' errors
        return TrackingUnavailable(failure_reason(error))
