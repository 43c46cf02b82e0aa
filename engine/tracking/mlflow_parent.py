"""A sweep's parent run in MLflow: opened with the sweep's overrides, closed with its
leaderboard. A store that cannot be reached warns; the sweep runs on (its jobs warn too)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from rich.console import Console

from engine.config.schema.tracking import TrackingConfig
from engine.errors import first_line
from engine.tracking.leaderboard import collect_jobs, rank_jobs
from engine.tracking.mlflow_store import TrackingUnavailable, open_store

MULTIRUN_FILE = "multirun.yaml"


def open_parent(settings: TrackingConfig, sweep_dir: Path, overrides: list[str], *,
                project_dir: Path, console: Console) -> dict[str, Any] | None:
    """Create the parent run; what the jobs need to nest under it, or None with a warning."""
    try:
        store = open_store(settings, project_dir)
        run = store.client.create_run(
            store.experiment_id, run_name=f"sweep {sweep_dir.name}",
            tags={"engine.sweep_dir": str(sweep_dir), "engine.kind": "sweep"})
        store.client.log_batch(run.info.run_id,
                               params=[Param("overrides", " ".join(overrides) or "(none)")])
    except (TrackingUnavailable, MlflowException, OSError) as error:
        _warn(console, "opened", error)
        return None
    console.print(f"mlflow: sweep run {run.info.run_id} in experiment "
                  f"'{settings.experiment_name}' ({store.uri})")
    return {"tracking_uri": store.uri, "experiment_id": store.experiment_id,
            "run_id": run.info.run_id}


def close_parent(settings: TrackingConfig, sweep_dir: Path, parent: dict[str, Any], *,
                 project_dir: Path, console: Console) -> None:
    """Log the leaderboard's rows, the job counts and the best objective; end the run."""
    rows = rank_jobs(collect_jobs(sweep_dir))
    finished = [row for row in rows if row["status"] == "ok"]
    stamp = int(time.time() * 1000)
    metrics = {"jobs": len(rows), "failed_jobs": len(rows) - len(finished)}
    if finished and finished[0].get("objective") is not None:
        metrics["best_objective"] = finished[0]["objective"]
    try:
        client, run_id = open_store(settings, project_dir).client, str(parent["run_id"])
        client.log_batch(run_id, metrics=[Metric(k, float(v), stamp, 0)
                                          for k, v in metrics.items()])
        client.log_dict(run_id, {"jobs": rows}, "leaderboard.json")
        if (sweep_dir / MULTIRUN_FILE).is_file():
            client.log_artifact(run_id, str(sweep_dir / MULTIRUN_FILE))
        if finished:
            client.set_tag(run_id, "engine.best_job", str(finished[0]["job"]))
        client.set_terminated(run_id, RunStatus.to_string(
            RunStatus.FINISHED if len(finished) == len(rows) else RunStatus.FAILED))
    except (TrackingUnavailable, MlflowException, OSError) as error:
        _warn(console, "closed", error)


def _warn(console: Console, what: str, error: Exception) -> None:
    console.print(f"[yellow]warning[/yellow]: tracking: the sweep's MLflow run was not {what} "
                  f"({first_line(error)}); the sweep directory stays complete.")
