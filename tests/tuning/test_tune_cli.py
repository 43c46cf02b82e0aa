"""Tuning from the command line: kill -9 and resume, two processes on one PostgreSQL study (both
slow), and user errors with exit status 2 (through ``engine.cli.main`` in this process)."""

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

from engine.tuning.storage import open_storage
from tests.conftest import REPO
from tests.postgres import create_database

CLI = Callable[..., subprocess.CompletedProcess[str]]
# No pruning in these studies: they count complete trials (what survives a kill, what two runs
# share), which a pruner would make depend on the scores.
KILLED_STUDY = ("model=random_forest", "tune=random", "tune.n_trials=8", "tune.study_name=killed",
                "split.cv.n_splits=3", "tune.pruner=none")


def load(studies: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(None, name, studies))


def wait_for_running_trial(studies: Path, process: subprocess.Popen[str]) -> None:
    """Until the study has two finished trials and one running that has drawn its parameters
    (or the run ended): a trial killed before its first draw has nothing to run again, and a
    fresh one takes its place."""
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if (studies / "killed.journal").exists():
            trials = load(studies, "killed").trials
            states = [t.state.name for t in trials]
            if states.count("COMPLETE") >= 2 and states[-1] == "RUNNING" and trials[-1].params:
                return
        time.sleep(0.1)
    pytest.fail("the study never had a running trial to interrupt")


@pytest.mark.slow  # two real runs of a study, one killed mid-trial: CI's `pytest -m slow` step
def test_kill_9_mid_study_then_rerun_loses_only_the_running_trial(tmp_path: Path) -> None:
    env = {**os.environ, "ENGINE_OUTPUT_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "engine", *KILLED_STUDY]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, text=True)
    studies = tmp_path / "studies"
    try:
        wait_for_running_trial(studies, process)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    before = load(studies, "killed").trials
    interrupted = [t for t in before if t.state.name == "RUNNING"]
    finished = [t for t in before if t.state.name == "COMPLETE"]
    assert len(interrupted) == 1

    rerun = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert "re-queued 1 trial(s) interrupted" in rerun.stdout
    after = load(studies, "killed").trials
    by_number = {t.number: t for t in after}
    for trial in finished:
        assert by_number[trial.number].state.name == "COMPLETE"
        assert by_number[trial.number].values == trial.values
    lost = by_number[interrupted[0].number]
    assert lost.state.name == "FAIL" and lost.user_attrs["interrupted"]
    retried = [t for t in after if t.user_attrs.get("retry_of") == lost.number]
    # The retry reuses what the interrupted trial had drawn (all of it, unless the kill came
    # between two draws) and is counted in its place.
    assert len(retried) == 1
    assert interrupted[0].params.items() <= retried[0].params.items()
    counted = [t for t in after if not t.user_attrs.get("interrupted")]
    assert len(counted) == 8 and all(t.state.name == "COMPLETE" for t in counted)


@pytest.mark.slow  # two engine processes on PostgreSQL (tests/tuning/test_storage.py shares a
# study between worker processes in the default suite)
def test_two_engine_runs_share_one_postgresql_study(postgres_url: str, tmp_path: Path) -> None:
    """Two `python -m engine` processes (as on two machines) fill one study through PostgreSQL."""
    url = create_database(postgres_url, "two_runs")
    env = {**os.environ, "ENGINE_OUTPUT_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "engine", "model=knn", "tune=random", "tune.n_trials=12",
               "tune.study_name=shared", f"tune.storage={url}", "split.cv.n_splits=3",
               "tune.pruner=none"]
    runs = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for process in runs:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr
    study = optuna.load_study(study_name="shared", storage=open_storage(url, "shared", tmp_path))
    numbers = [t.number for t in study.trials]
    assert sorted(numbers) == list(range(len(numbers))), "a trial number was lost or repeated"
    assert {t.state.name for t in study.trials} == {"COMPLETE"}
    assert 12 <= len(numbers) <= 13  # each run stops at 12; one may finish a trial it had begun
    workers = {t.user_attrs["worker"] for t in study.trials}
    assert len(workers) == 2, "both runs should have run trials"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model=hist_gbm", "tune=tpe", "model.search_space.l2_regularization.low=0"],
         "model.search_space.l2_regularization: a log-scale range needs low > 0, but got low=0"),
        (["model=svm", "tune=tpe", "model.search_space.C.low=-1"],
         "model.search_space.C: The 'C' parameter of SVC must be a float in the range (0.0, inf]"),
        (["model=knn", "tune=tpe",
          "model.search_space.weights={type: categorical, choices: [uniform, distanc]}"],
         "model.search_space.weights: The 'weights' parameter of KNeighborsClassifier must be"),
        (["tune=tpe", "tune.storage=foo"], "tune.storage: 'foo' is not a storage"),
        (["tune=tpe", "split=holdout"], "split.cv.strategy is none"),
        (["tune=tpe", "tune.models=knn"], "tune.models: expected a list of names, got 'knn'"),
        (["tune=tpe", "tune.sampler_options=5"], "tune.sampler_options: expected a mapping"),
        (["tune=nsga2", "tune.pick={within: -1}"], "tune.pick.within: -1 is not a number >= 0.0"),
        (["tune=tpee"], "Did you mean 'tpe'"),
        (["tune=tpe", "tune.method=bayes"], "tune.method: unknown search method 'bayes'"),
        (["tune=tpe", "tune.pruner=medain"], "tune.pruner: unknown value 'medain'. Did you mean "
                                             "'median'"),
        (["tune=tpe", "tune.n_trials=-3"], "tune.n_trials: -3 is not a whole number >= 1"),
        (["tune=tpe", "tune.n_trials=null"], "tune: give a budget"),
        (["tune=tpe", "tune.study_name=a/b"], "tune.study_name: 'a/b' cannot name a study file"),
        (["tune=tpe", "tune.sampler_options={n_startup_trial: 3}"],
         "tune.sampler_options.n_startup_trial: TPESampler has no parameter 'n_startup_trial'. "
         "Did you mean 'n_startup_trials'"),
        (["tune=tpe", "tune.objectives=[roc_auc, fit_tme]"], "Did you mean 'fit_time'"),
        (["tune=nsga2", "tune.pruner=median"], "cannot prune a search over several objectives"),
        (["tune=cmaes", "tune.objectives=[auto, fit_time]"], "tune.method=cmaes: cannot search 2"),
        (["tune=tpe", "tune.storage=postgresql+psycopg://u:secret@127.0.0.1:1/db"],
         "tune.storage=postgresql+psycopg://u:***@127.0.0.1:1/db: cannot open"),
    ],
)
def test_tuning_mistakes_exit_2_with_one_message(in_process_cli: CLI, overrides: list[str],
                                                 message: str) -> None:
    result = in_process_cli(*overrides)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
