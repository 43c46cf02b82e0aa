"""A run logged to MLflow in the background (the default, ``tracking.wait=false``): the command
returns with its run directory complete, the helper logs it after, ``runs sync`` waits for it,
and a run whose helper was stopped, or whose store was down, is logged once by ``runs sync``."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest

pytest.importorskip("mlflow", reason='the tracking extra: pip install -e ".[tracking]"')

from mlflow import MlflowClient
from rich.console import Console

from engine.config.schema.tracking import TrackingConfig
from engine.tracking.mlflow_tracker import WARNING_FILE, MlflowTracker
from tests.conftest import REPO, only_run_dir, run_main
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


def wait_for_helper(stdout: str) -> None:
    """Wait, however long it takes on a busy machine, for the background helper (a child of
    this process, as the run was in-process) to end; one already reaped has ended."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(helper_pid(stdout), 0)


@pytest.mark.slow  # a run, its MLflow helper process and four runs commands against the store
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
    shown = run_main(["runs", "show", str(run_dir)], tmp_path).stdout
    assert f"mlflow: run {logged['run_id']} ({logged['tracking_uri']})" in shown
    # The store's copy of the run directory (outputs/mlartifacts/...) is neither a run to log
    # nor one to list.
    again = run_main(["runs", "sync"], tmp_path)
    assert again.returncode == 0 and "that logs to MLflow is logged" in again.stdout
    listed = json.loads(run_main(["runs", "--format", "json"], tmp_path).stdout)
    assert [Path(row["path"]) for row in listed] == [run_dir]
    # A copy of the directory (its run.json names the original) is logged as a run of its own;
    # the original's finished MLflow run is not taken for a stopped attempt and deleted.
    copy = shutil.copytree(run_dir, tmp_path / "runs" / "copy")
    (copy / "mlflow.json").unlink()
    assert run_main(["runs", "sync"], tmp_path).returncode == 0
    assert logged["run_id"] in logged_runs(tmp_path, run_dir)


def test_a_helper_that_died_before_the_run_ended_is_a_warning(tmp_path: Path) -> None:
    """The run is finished and complete; its tracking only warns, naming the helper's exit."""
    done = run_main(["tracking=none", *QUICK], tmp_path)
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(tmp_path)
    settings = TrackingConfig(backend="mlflow", tracking_uri=f"sqlite:///{tmp_path}/m.db")
    tracker = MlflowTracker(settings, REPO, run_dir)
    tracker._helper.kill()
    tracker._helper.wait()
    console = Console(file=io.StringIO(), width=300)
    tracker.log(run_dir, console, background=True)
    assert "the run was not logged to MLflow (the MLflow helper exited with status -9" in \
           console.file.getvalue()


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
    wait_for_helper(done.stdout)
    assert f"the server at {uri} does not answer" in (run_dir / WARNING_FILE).read_text()
    shown = run_main(["runs", "show", str(run_dir)], tmp_path).stdout.replace("\n", " ")
    assert f"mlflow: not logged (the server at {uri} does not answer" in shown
    synced = run_main(["runs", "sync"], tmp_path)
    assert synced.returncode == 1
    assert f"{run_dir}: not logged to MLflow (the server at {uri} does not answer" in \
           synced.stdout.replace("\n", " ")


@pytest.mark.slow
def test_a_damaged_store_is_a_reason_not_a_traceback(tmp_path: Path) -> None:
    """A file that is not a database where the store should be: the driver's own error, which
    MLflow does not wrap, is the run's warning and `runs sync`'s line (exit 1)."""
    (tmp_path / "mlflow.db").write_text("not a database\n" * 100)
    done = run_main(["tracking=mlflow", *QUICK], tmp_path)
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(tmp_path)
    wait_for_helper(done.stdout)
    assert "DatabaseError" in (run_dir / WARNING_FILE).read_text()
    synced = run_main(["runs", "sync"], tmp_path)
    assert synced.returncode == 1 and "Traceback" not in synced.stdout + synced.stderr
    assert f"{run_dir}: not logged to MLflow (DatabaseError" in synced.stdout.replace("\n", " ")
