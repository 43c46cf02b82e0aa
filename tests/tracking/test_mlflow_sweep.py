"""A sweep logged to MLflow: one parent run, a child per job; a search's trials as nested runs
when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason='the tracking extra: pip install -e ".[tracking]"')

from mlflow import MlflowClient

from tests.conftest import only_run_dir, run_main

TINY = ("tracking=mlflow", "split.cv.n_splits=3", "report=false",
        "metrics.bootstrap.resamples=0")


@pytest.mark.slow
def test_a_sweep_is_a_parent_run_with_a_child_per_job(tmp_path: Path) -> None:
    done = run_main(["-m", "model=logistic_regression,dummy", *TINY], tmp_path)
    assert done.returncode == 0, done.stderr
    (sweep_dir,) = (tmp_path / "multiruns").iterdir()
    parent = json.loads((sweep_dir / "mlflow_parent.json").read_text())
    client = MlflowClient(tracking_uri=parent["tracking_uri"])
    children = client.search_runs(
        [parent["experiment_id"]], f"tags.mlflow.parentRunId = '{parent['run_id']}'")
    assert sorted(run.data.tags["engine.model"] for run in children) == [
        "dummy", "logistic_regression"]
    for job in ("0", "1"):
        logged = json.loads((sweep_dir / job / "mlflow.json").read_text())
        assert logged["parent_run_id"] == parent["run_id"]
    run = client.get_run(parent["run_id"])
    assert run.info.status == "FINISHED"
    assert (run.data.metrics["jobs"], run.data.metrics["failed_jobs"]) == (2, 0)
    assert run.data.tags["engine.best_job"] == "0"  # logistic regression beats the dummy
    assert run.data.params["overrides"] == "model=logistic_regression,dummy " + " ".join(TINY)


@pytest.mark.slow
def test_a_search_logs_its_trials_as_nested_runs_when_asked(tmp_path: Path) -> None:
    done = run_main([*TINY, "model=logistic_regression", "tune=random", "tune.n_trials=3",
                     "tune.plots=false", "tracking.nested_trials=true", "tracking.wait=true"],
                    tmp_path)
    assert done.returncode == 0, done.stderr
    logged = json.loads((only_run_dir(tmp_path) / "mlflow.json").read_text())
    client = MlflowClient(tracking_uri=logged["tracking_uri"])
    trials = client.search_runs(
        [logged["experiment_id"]], f"tags.mlflow.parentRunId = '{logged['run_id']}'")
    assert logged["trial_runs"] == len(trials) == 3
    assert all("C" in trial.data.params and "roc_auc" in trial.data.metrics for trial in trials)

