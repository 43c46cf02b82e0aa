"""Three ``python -m engine worker`` processes on one study in a real PostgreSQL server, one of
them killed (``kill -9``) mid-trial: every trial of the budget finishes once, the killed one's
trial is run again (by the recovery the hardening work built) and counted once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest

from engine.tuning.recovery import counted_trials
from engine.tuning.storage import open_storage
from tests.conftest import REPO
from tests.postgres import create_database

N_TRIALS = 6
# No pruning: the test counts complete trials, which a pruner would make depend on the scores.
EXPERIMENT = ("tune=random", f"tune.n_trials={N_TRIALS}", "model=random_forest",
              "model.search_space.n_estimators.high=150", "split.cv.n_splits=3", "tune.pruner=none")


def start_worker(url: str, outputs: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "ENGINE_OUTPUT_DIR": str(outputs)}
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "worker", "--study", "three", "--storage", url,
         *EXPERIMENT], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def wait_for_trial_of(study_url: str, pid: int, tmp_path: Path) -> None:
    """Until the worker ``pid`` is running a trial of the study."""
    worker = f"{socket.gethostname()}:{pid}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            study = optuna.load_study(study_name="three",
                                      storage=open_storage(study_url, "three", tmp_path))
        except KeyError:  # not created yet
            study = None
        if study is not None and any(t.state.name == "RUNNING" and t.user_attrs.get("worker")
                                     == worker for t in study.get_trials(deepcopy=False)):
            return
        time.sleep(0.2)
    pytest.fail(f"worker {worker} never ran a trial")


@pytest.mark.slow
def test_three_workers_one_killed_mid_trial_lose_and_duplicate_nothing(
        postgres_url: str, tmp_path: Path) -> None:
    url = create_database(postgres_url, f"workers_{uuid.uuid4().hex[:8]}")
    workers = [start_worker(url, tmp_path) for _ in range(3)]
    victim = workers[2]
    try:
        wait_for_trial_of(url, victim.pid, tmp_path)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()  # reaped: a zombie's pid would still look alive to the others
        outputs = [worker.communicate(timeout=600) for worker in workers[:2]]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    for worker, (out, err) in zip(workers[:2], outputs, strict=True):
        assert worker.returncode == 0, err
        assert "ran " in out
    study = optuna.load_study(study_name="three", storage=open_storage(url, "three", tmp_path))
    trials = study.get_trials(deepcopy=False)
    (killed,) = [t for t in trials if t.user_attrs.get("interrupted")]
    assert killed.state.name == "FAIL"
    assert killed.user_attrs["worker"] == f"{socket.gethostname()}:{victim.pid}"
    (retried,) = [t for t in trials if t.user_attrs.get("retry_of") == killed.number]
    assert retried.state.name == "COMPLETE" and retried.params == killed.params
    assert retried.user_attrs["worker"] != killed.user_attrs["worker"]
    counted = counted_trials(study)
    assert len(counted) == N_TRIALS and all(t.state.name == "COMPLETE" for t in counted)
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    assert len(trials) == N_TRIALS + 1  # the budget, and the killed trial's first attempt
    drawn = [tuple(sorted(t.params.items())) for t in counted]
    assert len(set(drawn)) == N_TRIALS  # no two workers drew the same parameters
    assert not (tmp_path / "runs").exists()  # workers never refit
