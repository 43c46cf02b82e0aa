"""``python -m engine worker`` on one study (a journal file, in this process): the experiment
is stored in the study, a worker with no overrides runs it, one with another config is refused,
``--refit`` refits once; workers never write a run directory."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import wsgiref.util
from pathlib import Path

import optuna
import pytest

from engine.tracking.records import read_metrics
from engine.tuning.storage import open_storage
from engine.tuning.workers import wait_for_others
from tests.conftest import run_main

EXPERIMENT = ("tune=random", "tune.n_trials=3", "model=logistic_regression",
              "split.cv.n_splits=3")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A study of three trials run by one worker started with the experiment's overrides:
    (its journal file, the output folder)."""
    root = tmp_path_factory.mktemp("workers")
    journal = root / "shared.journal"
    done = run_main(["worker", "--study", "shared", "--storage", str(journal), *EXPERIMENT],
                    root / "outputs")
    assert done.returncode == 0, done.stderr
    assert "ran 3 trial(s); the study has 3 of 3 done" in done.stdout
    return journal, root / "outputs"


def load(journal: Path) -> optuna.Study:
    return optuna.load_study(study_name="shared",
                             storage=open_storage(str(journal), "shared", journal.parent))


def test_the_study_holds_its_experiment_metric_names_and_each_trials_folds(
        study: tuple[Path, Path]) -> None:
    journal, outputs = study
    loaded = load(journal)
    assert loaded.metric_names == ["roc_auc"]
    experiment = loaded.user_attrs["experiment"]
    assert experiment["choices"]["model"] == "logistic_regression"
    assert experiment["config"]["tune"]["n_trials"] == 3
    for trial in loaded.trials:
        assert trial.state.name == "COMPLETE"
        assert len(trial.user_attrs["cv"]["roc_auc"]["folds"]) == 3
        assert trial.user_attrs["fit_time"] > 0 and trial.user_attrs["worker"]
    assert not (outputs / "runs").exists()  # a worker never refits


def test_a_worker_without_overrides_joins_with_the_studys_experiment(
        study: tuple[Path, Path]) -> None:
    journal, outputs = study
    done = run_main(["worker", "--study", "shared", "--storage", str(journal)], outputs)
    assert done.returncode == 0, done.stderr
    assert "(3 of 3 trials done)" in done.stdout and "ran 0 trial(s)" in done.stdout


def test_a_worker_may_differ_in_what_does_not_change_a_trial(study: tuple[Path, Path]) -> None:
    journal, outputs = study
    done = run_main(["worker", "--study", "shared", "--storage", str(journal), *EXPERIMENT,
                     "tune.n_jobs=2", "metrics.bootstrap.resamples=0", "report=false"], outputs)
    assert done.returncode == 0, done.stderr
    assert "(3 of 3 trials done), 2 process(es) here" in done.stdout


def test_a_worker_with_another_config_is_refused_naming_each_difference(
        study: tuple[Path, Path]) -> None:
    journal, outputs = study
    done = run_main(["worker", "--study", "shared", "--storage", str(journal), *EXPERIMENT,
                     "seed=3", "model.C=0.5", "tune.n_trials=10"], outputs)
    assert done.returncode == 2 and done.stdout.count("\n") <= 1
    assert done.stderr == (
        "error: tune.study_name=shared: this process's config differs from the one the study "
        "was started with: model.C is 1.0 in the study, 0.5 here; seed is 42 in the study, 3 "
        "here. Every worker of a study runs the same experiment: start it with the study's own "
        "config (python -m engine worker --study shared --storage URL, with no overrides), or "
        "name another study.\n")
    assert len(load(journal).trials) == 3


def test_refit_writes_one_run_directory_from_the_studys_best_trial(
        study: tuple[Path, Path]) -> None:
    journal, outputs = study
    done = run_main(["worker", "--study", "shared", "--storage", str(journal), "--refit"],
                    outputs)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (outputs / "runs").iterdir()
    tuning = read_metrics(run_dir).tuning
    assert tuning is not None and tuning.study_name == "shared" and tuning.new_trials == 0
    assert tuning.best_trial == load(journal).best_trial.number
    assert (run_dir / "model").is_dir() and (run_dir / "resolved_config.yaml").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (("--study", "sharde"), "worker --study sharde: no such study in {journal}. Did you mean "
                            "'shared'?"),
    (("--study", "shared", "tune.study_name=other"),
     "worker: tune.study_name=other: the study is named by --study and --storage"),
    (("--study", "new", "tune=none"), "worker: these overrides choose no search (tune=none)"),
    (("--study", "bad name"), "tune.study_name: 'bad name' cannot name a study file"),
])
def test_a_mistake_is_one_line_and_exit_2(study: tuple[Path, Path], args: tuple[str, ...],
                                          message: str) -> None:
    journal, outputs = study
    study_args, overrides = args[:2], args[2:]
    done = run_main(["worker", *study_args, "--storage", str(journal), *overrides], outputs)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {message.format(journal=journal)}")
    assert done.stderr.count("\n") == 1


def test_a_storage_url_with_a_typo_gets_did_you_mean(tmp_path: Path) -> None:
    done = run_main(["worker", "--study", "s", "--storage", "postgresql+psycog://u@db/studies"],
                    tmp_path)
    assert done.returncode == 2
    assert done.stderr == (
        "error: tune.storage=postgresql+psycog://u@db/studies: cannot open the study storage: "
        "'postgresql+psycog://' is not a database URL scheme. Did you mean 'postgresql+psycopg'? "
        "Use postgresql+psycopg://user@host/db (many machines), sqlite:///path.db, or a path "
        "ending in .journal.\n")


def test_the_run_that_refits_waits_for_the_trials_other_workers_are_running(
        tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "wait.journal"), "wait", tmp_path)
    study = optuna.create_study(study_name="wait", storage=storage)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        running = study.ask()
        running.set_user_attr("worker", f"{socket.gethostname()}:{other.pid}")
        threading.Timer(0.5, lambda: study.tell(running, 0.5)).start()
        wait_for_others(study, poll_seconds=0.05)
        assert study.trials[0].state.name == "COMPLETE"  # it waited for the other's trial
        orphan = study.ask()
        orphan.suggest_float("x", 0.0, 1.0)
        orphan.set_user_attr("worker", f"{socket.gethostname()}:{other.pid}")
    finally:
        other.kill()
        other.wait()
    wait_for_others(study, poll_seconds=0.05)  # its worker died: the trial ends, queued again
    assert study.trials[1].state.name == "FAIL" and study.trials[1].user_attrs["interrupted"]
    assert study.trials[2].state.name == "WAITING"
    assert study.trials[2].user_attrs["retry_of"] == 1
    assert study.trials[2].system_attrs["fixed_params"] == study.trials[1].params


def test_optuna_dashboard_names_the_objective_and_shows_each_trials_folds(
        study: tuple[Path, Path]) -> None:
    dashboard = pytest.importorskip("optuna_dashboard", reason="the dashboard extra")
    journal, _ = study
    app = dashboard.wsgi(open_storage(str(journal), "shared", journal.parent))
    environ: dict[str, object] = {}
    wsgiref.util.setup_testing_defaults(environ)
    environ["PATH_INFO"] = f"/api/studies/{load(journal)._study_id}"
    environ["QUERY_STRING"] = "after=0"
    answer = json.loads(b"".join(app(environ, lambda status, headers, *exc_info: None)))
    assert answer["objective_names"] == ["roc_auc"]
    attributes = {item["key"] for item in answer["trials"][0]["user_attrs"]}
    assert {"cv", "fit_time", "worker"} <= attributes


def test_a_budgeted_study_is_joined_by_a_worker_that_keeps_its_budget(tmp_path: Path) -> None:
    journal = tmp_path / "budgeted.journal"
    budgeted = ("tune=random", "tune.n_trials=null", "budget=6", "model=logistic_regression",
                "split.cv.n_splits=3")
    first = run_main(["worker", "--study", "budgeted", "--storage", str(journal), *budgeted],
                     tmp_path / "outputs")
    assert first.returncode == 0, first.stderr
    stored = optuna.load_study(study_name="budgeted", storage=open_storage(
        str(journal), "budgeted", tmp_path)).user_attrs["experiment"]
    assert stored["config"]["budget"] == 6
    joined = run_main(["worker", "--study", "budgeted", "--storage", str(journal)],
                      tmp_path / "outputs")  # rebuilt from the study: the budget bounds it
    assert joined.returncode == 0, joined.stderr
    assert "ran" in joined.stdout
