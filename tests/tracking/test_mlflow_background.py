"""A run logged to MLflow in the background (the default, ``tracking.wait=false``): the command
returns with its run directory complete, the helper logs it after, ``runs sync`` waits for it,
and a run whose helper was stopped, or whose store was down, is logged once by ``runs sync``."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason='the tracking extra: pip install -e ".[tracking]"')

from mlflow import MlflowClient

from engine.tracking.mlflow_tracker import WARNING_FILE
from tests.conftest import only_run_dir, run_main
from tests.postgres import free_port

QUICK = ("model=logistic_regression", "split.cv.n_splits=2", "metrics.bootstrap.resamples=0",
         "metrics.explain.importance_repeats=0", "report=false")


def logged_runs(outputs: Path, run_dir: Path) -> list[str]:
    """The ids of the live MLflow runs (deleted ones left out) logged for ``run_dir``."""
    client = MlflowClient(tracking_uri=f"sqlite:///{outputs / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("engine")
    assert experiment is not None
    found = client.search_runs([experiment.experiment_id],
                               filter_string=f"tags.`engine.run_dir` = '{run_dir}'")
    return [run.info.run_id for run in found]


def helper_pid(stdout: str) -> int:
    found = re.search(r"logging the run in the background \(process (\d+)\)", stdout)
    assert found, stdout
    return int(found[1])


def test_the_run_returns_and_runs_sync_waits_for_its_logging(tmp_path: Path) -> None:
    done = run_main(["tracking=mlflow", *QUICK], tmp_path)
    assert done.returncode == 0, done.stderr
    helper_pid(done.stdout)
    run_dir = only_run_dir(tmp_path)
    synced = run_main(["runs", "sync"], tmp_path)
    assert synced.returncode == 0, synced.stderr
    logged = json.loads((run_dir / "mlflow.json").read_text())
    assert f"{run_dir}: mlflow run {logged['run_id']} in experiment 'engine'" in synced.stdout
    assert logged_runs(tmp_path, run_dir) == [logged["run_id"]]
    # The store's copy of the run directory (outputs/mlartifacts/...) is neither a run to log
    # nor one to list.
    again = run_main(["runs", "sync"], tmp_path)
    assert again.returncode == 0 and "that logs to MLflow is logged" in again.stdout
    listed = json.loads(run_main(["runs", "--format", "json"], tmp_path).stdout)
    assert [Path(row["path"]) for row in listed] == [run_dir]


@pytest.mark.slow
def test_a_run_whose_helper_was_stopped_is_logged_once_by_runs_sync(tmp_path: Path) -> None:
    done = run_main(["tracking=mlflow", *QUICK], tmp_path)
    assert done.returncode == 0, done.stderr
    os.kill(helper_pid(done.stdout), signal.SIGKILL)  # wherever it was: importing, logging
    run_dir = only_run_dir(tmp_path)
    synced = run_main(["runs", "sync"], tmp_path)
    assert synced.returncode == 0, synced.stderr
    logged = json.loads((run_dir / "mlflow.json").read_text())
    assert logged_runs(tmp_path, run_dir) == [logged["run_id"]]


@pytest.mark.slow
def test_a_store_that_was_down_is_told_in_the_run_and_by_runs_sync(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    done = run_main(["tracking=mlflow", f"tracking.tracking_uri={uri}", *QUICK], tmp_path)
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(tmp_path)
    deadline = time.monotonic() + 120
    while not (run_dir / WARNING_FILE).is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"the server at {uri} does not answer" in (run_dir / WARNING_FILE).read_text()
    synced = run_main(["runs", "sync"], tmp_path)
    assert synced.returncode == 1
    assert f"{run_dir}: not logged to MLflow (the server at {uri} does not answer" in \
           synced.stdout.replace("\n", " ")
