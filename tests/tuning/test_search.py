"""The in-run search end to end: refit, resume, pruning, failures, objectives, workers, hook."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import optuna
import pandas as pd
import pytest

from engine.deploy.bundle import load_bundle
from engine.errors import ConfigError, EngineError
from engine.experiment import RunResult
from engine.tuning.progress import EpochReporter
from engine.tuning.storage import open_storage
from tests.conftest import FAST

Run = Callable[..., RunResult]
# The search and its refit alone, for tests that read neither the tuning plots (drawn in a process
# of their own: seconds a run), nor the report, the test intervals or the importances.
SEARCH_ONLY = (*FAST, "tune.plots=false", "report=false", "metrics.bootstrap.resamples=0",
               "metrics.explain.importance_repeats=0")


@pytest.fixture(autouse=True)
def studies_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_OUTPUT_DIR", str(tmp_path / "outputs"))


def trials(result: RunResult) -> pd.DataFrame:
    return pd.read_csv(result.run_dir / "tuning" / "trials.csv")


def test_search_refits_the_best_trial_and_reports_test_beside_cv(run: Run) -> None:
    result = run("model=knn", "tune=tpe", "tune.n_trials=6", *FAST)
    tuning = result.metrics["tuning"]
    table = trials(result)
    assert len(table) == 6 and set(table["state"]) == {"COMPLETE"}
    best = table.loc[table["roc_auc"].idxmax()]
    assert tuning["best_trial"] == best["number"]
    assert result.metrics["cv"]["roc_auc"]["mean"] == pytest.approx(best["roc_auc"])
    assert "roc_auc" in result.metrics["test"]
    fitted = load_bundle(result.run_dir).pipeline[-1]
    assert fitted.n_neighbors == tuning["best_params"]["n_neighbors"]
    assert fitted.weights == tuning["best_params"]["weights"]
    files = {p.name for p in (result.run_dir / "tuning").iterdir()}
    assert {"best.json", "optimization_history.png", "param_importances.png",
            "parallel_coordinate.png"} <= files
    assert len(pd.read_csv(result.run_dir / "cv_scores.csv")) == 3


@pytest.mark.parametrize("method", ["tpe", "random", "cmaes", "gp", "qmc", "grid"])
def test_every_sampler_runs_a_search(run: Run, method: str) -> None:
    result = run("model=knn", f"tune={method}", "tune.n_trials=4", "tune.plots=false", *FAST)
    assert result.metrics["tuning"]["method"] == method
    assert result.metrics["tuning"]["trials"] == {"COMPLETE": 4}


@pytest.mark.parametrize("pruner", ["successive_halving", "hyperband"])
def test_every_pruner_runs_a_search(run: Run, pruner: str) -> None:
    result = run("model=knn", "tune=random", f"tune.pruner={pruner}", "tune.n_trials=12",
                 "tune.plots=false", *FAST)
    counts = result.metrics["tuning"]["trials"]
    assert counts.get("COMPLETE", 0) + counts.get("PRUNED", 0) == 12


def test_a_sqlite_study_lives_in_a_db_file_and_resumes(run: Run, tmp_path: Path) -> None:
    common = ("model=knn", "tune=random", "tune.storage=sqlite", "tune.study_name=in_sqlite",
              "tune.plots=false", *FAST)
    run(*common, "tune.n_trials=2")
    result = run(*common, "tune.n_trials=5")
    assert result.metrics["tuning"]["storage"] == (
        f"sqlite:///{tmp_path / 'outputs' / 'studies' / 'in_sqlite.db'}")
    assert result.metrics["tuning"]["new_trials"] == 3 and len(trials(result)) == 5


@pytest.mark.slow
def test_a_seeded_sequential_study_gives_the_same_trials_twice(run: Run) -> None:
    first = trials(run("model=svm", "tune=tpe", "tune.n_trials=12", *SEARCH_ONLY))
    second = trials(run("model=svm", "tune=tpe", "tune.n_trials=12", *SEARCH_ONLY))
    columns = [c for c in first if c.startswith("param_") or c in ("state", "roc_auc")]
    pd.testing.assert_frame_equal(first[columns], second[columns])


def test_rerunning_a_named_study_resumes_and_counts_its_total(run: Run) -> None:
    common = ("model=knn", "tune=random", "tune.study_name=resume_me", *SEARCH_ONLY)
    first = run(*common, "tune.n_trials=4")
    second = run(*common, "tune.n_trials=7")
    third = run(*common, "tune.n_trials=7")
    assert first.metrics["tuning"]["new_trials"] == 4
    assert second.metrics["tuning"]["new_trials"] == 3
    assert third.metrics["tuning"]["new_trials"] == 0
    assert len(trials(third)) == 7
    params = trials(second)[["param_n_neighbors", "param_weights", "param_p"]]
    assert not params.duplicated().any(), "a resumed study replayed earlier draws"


def test_a_trial_left_running_by_a_dead_process_is_run_again(run: Run, tmp_path: Path) -> None:
    """What ``kill -9`` leaves in a study, without the kill (that end to end, in processes, is
    tests/tuning/test_tune_cli.py, slow): the trial fails, flagged, and its draw is retried."""
    common = ("model=knn", "tune=random", "tune.study_name=crashed", *SEARCH_ONLY)
    run(*common, "tune.n_trials=2")
    study = optuna.load_study(study_name="crashed", storage=open_storage(
        None, "crashed", tmp_path / "outputs" / "studies"))
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    left = study.ask(study.trials[0].distributions)
    left.set_user_attr("worker", f"{socket.gethostname()}:{gone.pid}")
    resumed = run(*common, "tune.n_trials=3")
    table = trials(resumed).set_index("number")
    assert table.loc[left.number, "state"] == "FAIL"
    retried = study.trials[-1]
    assert retried.user_attrs["retry_of"] == left.number and retried.params == left.params
    assert resumed.metrics["tuning"]["new_trials"] == 1  # the retry, counted in its place
    assert (table["state"] == "COMPLETE").sum() == 3


def test_resuming_a_study_with_another_search_is_refused_before_any_trial(run: Run) -> None:
    run("model=knn", "tune=random", "tune.study_name=one_search", "tune.n_trials=2", *SEARCH_ONLY)
    with pytest.raises(ConfigError, match=r"tune.study_name=one_search: the stored study "
                                          r"searched a different models \(\['knn'\] there"):
        run("model=logistic_regression", "tune=random", "tune.study_name=one_search",
            "tune.n_trials=4", *SEARCH_ONLY)
    again = run("model=knn", "tune=random", "tune.study_name=one_search", "tune.n_trials=3",
                *SEARCH_ONLY)
    assert len(trials(again)) == 3


def test_the_chosen_family_keeps_its_command_line_overrides(run: Run) -> None:
    result = run("model=knn", "model.search_space.n_neighbors.high=3", "tune=random",
                 "tune.models=[knn,logistic_regression]", "tune.n_trials=10", *SEARCH_ONLY)
    table = trials(result)
    assert table["param_knn.n_neighbors"].dropna().max() <= 3


def test_a_pruned_cost_objective_reports_the_cost(run: Run) -> None:
    result = run("model=knn", "tune=random", "tune.objectives=[fit_time]",
                 "tune.pruner=median", "tune.pruner_options={n_startup_trials: 2}",
                 "tune.n_trials=12", *SEARCH_ONLY)
    assert result.metrics["tuning"]["directions"] == ["minimize"]
    assert (trials(result)["fit_time"].dropna() < 0.5).all()  # seconds, not roc_auc values


def test_a_pruner_stops_bad_trials_after_a_fold(run: Run) -> None:
    result = run("model=knn", "tune=random", "tune.n_trials=20", "tune.pruner=median",
                 "tune.pruner_options={n_startup_trials: 3}", *SEARCH_ONLY,
                 "split.cv.n_splits=5")
    table = trials(result)
    pruned = table[table["state"] == "PRUNED"]
    assert len(pruned) > 0
    assert set(pruned["pruned_at_step"]) <= {0, 1, 2, 3}
    assert result.metrics["tuning"]["trials"]["PRUNED"] == len(pruned)


def test_failing_trials_are_recorded_and_the_study_goes_on(run: Run) -> None:
    result = run("model=knn", "tune=random", "tune.n_trials=12", "tune.max_failure_fraction=1",
                 "model.search_space.n_neighbors={type: int, low: 1, high: 2000, log: true}",
                 *SEARCH_ONLY)
    table = trials(result)
    failed = table[table["state"] == "FAIL"]
    assert len(failed) > 0 and (table["state"] == "COMPLETE").sum() > 0
    assert failed["error"].str.contains("n_neighbors").all()


def test_too_many_failures_stop_the_study_with_a_message(run: Run) -> None:
    with pytest.raises(EngineError, match=r"tune: the search stopped: \d+ of \d+ trials failed, "
                                          r"more than tune.max_failure_fraction=0.5"):
        run("model=knn", "tune=random", "tune.n_trials=8",
            "model.search_space.n_neighbors={type: int, low: 1000, high: 2000}", *SEARCH_ONLY)


@pytest.mark.slow
def test_several_objectives_save_the_pareto_front_and_pick_by_rule(run: Run) -> None:
    result = run("model=knn", "tune=nsga2", "tune.n_trials=8",
                 "tune.pick={objective: fit_time, within: 0.05}", *FAST)
    tuning = result.metrics["tuning"]
    assert tuning["objectives"] == ["roc_auc", "fit_time"]
    assert tuning["directions"] == ["maximize", "minimize"]
    front = pd.read_csv(result.run_dir / "tuning" / "pareto_front.csv")
    assert tuning["best_trial"] in set(front["number"])
    close = front[front["roc_auc"] >= front["roc_auc"].max() - 0.05]
    picked = front.set_index("number").loc[tuning["best_trial"], "fit_time"]
    assert picked == close["fit_time"].min()
    assert (result.run_dir / "tuning" / "pareto_front.png").is_file()


def test_worker_processes_share_one_study(run: Run) -> None:
    result = run("model=knn", "tune=random", "tune.n_trials=8", "tune.n_jobs=2", *SEARCH_ONLY)
    table = trials(result)
    assert len(table) == 8 and sorted(table["number"]) == list(range(8))
    assert table["worker"].nunique() == 2


def test_the_time_budget_is_honoured_within_5_percent_or_one_trial(run: Run) -> None:
    result = run("model=knn", "tune=random", "tune.n_trials=100000", "tune.timeout=3",
                 "tune.plots=false", *FAST)
    longest = trials(result)["duration_s"].max()
    # The clock starts before the study is opened: 0.2 s for that, none for the search itself.
    assert result.metrics["tuning"]["search_seconds"] <= max(3 * 1.05, 3 + longest) + 0.2
    assert len(trials(result)) > 3


def test_the_epoch_reporter_prunes_its_trial_on_a_worse_loss() -> None:
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    good = study.ask()
    for epoch in range(3):
        EpochReporter(good)(epoch, 0.1)
    study.tell(good, 0.9)
    bad = study.ask()
    with pytest.raises(optuna.TrialPruned, match="step 0"):
        EpochReporter(bad)(0, 0.9)  # a higher loss: a lower score than the median


def test_the_search_record_lands_in_metrics_json(run: Run) -> None:
    result = run("model=knn", "tune=random", "tune.n_trials=3", *SEARCH_ONLY)
    stored = json.loads((result.run_dir / "metrics.json").read_text())["tuning"]
    assert stored["trials"] == {"COMPLETE": 3}
    assert Path(stored["storage"]).suffix == ".journal" and Path(stored["storage"]).is_file()


def test_auto_prunes_a_network_on_epochs_unless_the_search_spans_families() -> None:
    from sklearn.linear_model import LogisticRegression

    from engine.models.torch import TorchClassifier
    from engine.tuning.progress import resolve_prune_on

    assert resolve_prune_on("auto", TorchClassifier()) == "epochs"
    assert resolve_prune_on("auto", LogisticRegression()) == "folds"
    assert resolve_prune_on("auto", TorchClassifier(), across_families=True) == "folds"
    assert resolve_prune_on("epochs", LogisticRegression(), across_families=True) == "epochs"
