"""Studies that survive: a journal cut mid-record, Ctrl-C mid-search, a worker killed on SQLite and
PostgreSQL. Real studies, real files and real processes (signals go to real subprocesses)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from engine.experiment import RunResult
from engine.tracking.records import read_run
from engine.tuning import storage as storage_module
from engine.tuning.recovery import counted_trials
from engine.tuning.storage import open_storage
from tests.conftest import REPO
from tests.postgres import create_database

SAFETY_TIMEOUT = 120.0  # only a safety net: nothing asserts how long anything takes
N_TRIALS = 20  # enough that the run is still searching when the test, on a busy machine, looks
STUDY = ("model=knn", "tune=random", f"tune.n_trials={N_TRIALS}", "tune.study_name=stopped",
         "split.cv.n_splits=3", "tune.plots=false", "report=false",
         "metrics.bootstrap.resamples=0", "metrics.explain.importance_repeats=0",
         "tune.pruner=none")  # it counts complete trials, which pruning would make vary
# A worker as on another machine (so only the heartbeat can tell it died): it starts one trial,
# says so, and sleeps in it until it is killed.
REMOTE_WORKER = """
import sys, time
from pathlib import Path
import optuna
from engine.tuning.storage import open_storage
url, name, started = sys.argv[1:]
study = optuna.load_study(study_name=name, storage=open_storage(url, name, Path(started).parent))
def objective(trial):
    trial.set_user_attr("worker", "another-machine:1")
    trial.suggest_float("x", 0, 1)
    Path(started).touch()
    time.sleep(600)
study.optimize(objective, n_trials=1)
"""


def load(storage: str | None, name: str, studies: Path) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(storage, name, studies))


def square(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0, 1) ** 2


def wait_until(done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + SAFETY_TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {SAFETY_TIMEOUT} s")
        time.sleep(0.05)


def test_a_journal_cut_mid_record_is_repaired_on_open_and_the_study_goes_on(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    studies = tmp_path / "studies"
    journal = studies / "cut.journal"
    optuna.create_study(study_name="cut", storage=open_storage(None, "cut", studies)).optimize(
        square, n_trials=3)
    whole = journal.read_bytes()
    last = whole.rstrip(b"\n").rsplit(b"\n", 1)[1]  # trial 2's last record: its state
    complete = whole[:len(whole) - len(last) - 1]
    written = len(last) // 2  # the power went half-way through writing it
    journal.write_bytes(complete + last[:written])
    capfd.readouterr()

    study = load(None, "cut", studies)
    warning = capfd.readouterr().err
    assert warning.splitlines() == [
        f"warning: {journal}: dropped an unfinished last record ({written} "
        "bytes, a write cut short); the study goes on from its complete records."]
    assert journal.read_bytes() == complete
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "RUNNING"]

    study.optimize(square, n_trials=3)
    load(None, "cut", studies)
    assert capfd.readouterr().err == ""  # a whole journal is left as it is
    # Optuna's own reader, without the repair, reads every record back.
    plain = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    states = [t.state.name for t in optuna.load_study(study_name="cut", storage=plain).trials]
    assert states == ["COMPLETE", "COMPLETE", "RUNNING", "COMPLETE", "COMPLETE", "COMPLETE"]


@pytest.mark.slow  # a real process interrupted, then the rest of a 20-trial study
def test_ctrl_c_mid_search_exits_130_records_the_run_and_the_rerun_completes_the_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Callable[..., RunResult]
) -> None:
    outputs = tmp_path / "outputs"
    studies = outputs / "studies"
    env = {**os.environ, "ENGINE_OUTPUT_DIR": str(outputs), "COLUMNS": "200"}
    process = subprocess.Popen([sys.executable, "-m", "engine", *STUDY], cwd=REPO, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: process.poll() is not None or trial_in_flight(studies),
                   "a trial in flight after two complete ones")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=SAFETY_TIMEOUT)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines() == [
        "interrupted (Ctrl-C): the run stopped; a named study (tune.study_name) resumes where it "
        "stopped when the same command runs again."]
    (run_dir,) = (outputs / "runs").iterdir()
    assert read_run(run_dir).status == "interrupted"
    stopped = load(None, "stopped", studies).trials
    (cut,) = [t for t in stopped if t.state.name != "COMPLETE" and "retry_of" not in t.user_attrs]
    assert cut.state.name == "FAIL" and cut.user_attrs["interrupted"]
    assert counted_trials(load(None, "stopped", studies)) == [
        t for t in stopped if t.state.name == "COMPLETE"]  # the cut trial is not a failure

    monkeypatch.setenv("ENGINE_OUTPUT_DIR", str(outputs))
    rerun = run(*STUDY)
    assert rerun.metrics["tuning"]["trials"] == {"COMPLETE": N_TRIALS, "INTERRUPTED": 1}
    after = load(None, "stopped", studies).trials
    (retry,) = [t for t in after if t.user_attrs.get("retry_of") == cut.number]
    assert retry.state.name == "COMPLETE" and retry.params == cut.params
    assert len([t for t in after if t.state.name == "COMPLETE"]) == N_TRIALS


def trial_in_flight(studies: Path) -> bool:
    """Whether the study has two complete trials and a running one that has drawn its values."""
    if not (studies / "stopped.journal").exists():
        return False
    trials = load(None, "stopped", studies).trials
    states = [t.state.name for t in trials]
    return states.count("COMPLETE") >= 2 and states[-1] == "RUNNING" and bool(trials[-1].params)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # fail_stale_trials
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_dead_workers_trial_is_retried_by_the_heartbeat_and_counted_once(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """A worker on another machine dies mid-trial: the next worker to start a trial fails it
    through the heartbeat, runs its parameters again, and the study ends with n_trials results."""
    url = (create_database(request.getfixturevalue("postgres_url"), f"dead_{os.getpid()}")
           if backend == "postgresql" else f"sqlite:///{tmp_path / 'studies.db'}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    optuna.create_study(study_name="dead", storage=open_storage(url, "dead", tmp_path)).optimize(
        square, n_trials=3)
    started = tmp_path / "started"
    worker = subprocess.Popen([sys.executable, "-c", REMOTE_WORKER, url, "dead", str(started)],
                              cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: started.exists() or worker.poll() is not None, "the remote trial")
        assert worker.poll() is None, worker.communicate()[1]
    finally:
        worker.kill()
        worker.wait()

    monkeypatch.setattr(storage_module, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(storage_module, "GRACE_SECONDS", 1)  # the dead worker is stale sooner
    study = load(url, "dead", tmp_path)
    (dead,) = [t for t in study.trials if t.state.name == "RUNNING"]
    wait_until(lambda: stale_trial_failed(study), "the heartbeat failing the dead trial")
    study.optimize(square, n_trials=10 - len(counted_trials(study)))

    trials = load(url, "dead", tmp_path).trials
    assert trials[dead.number].state.name == "FAIL"
    (retry,) = [t for t in trials if dead.number in t.system_attrs.get("retry_history", [])]
    assert retry.state.name == "COMPLETE" and retry.params == dead.params
    assert len(counted_trials(load(url, "dead", tmp_path))) == 10
    assert len([t for t in trials if t.state.name == "COMPLETE"]) == 10


def stale_trial_failed(study: optuna.Study) -> bool:
    """What every worker does before each trial: fail (and retry) the stale ones."""
    optuna.storages.fail_stale_trials(study)
    return not [t for t in study.trials if t.state.name == "RUNNING"]

