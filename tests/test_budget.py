"""``budget=<seconds>``: the accounting (each stage charged, the search given what is left), the
search's deadline on a real Optuna study, a real budgeted run's run.json, and bad values."""

from __future__ import annotations

import datetime
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from engine.budget import (
    FLOOR_SECONDS,
    MOST_BUSY,
    SAVE_SECONDS_PER_NODE,
    SHARE,
    Budget,
    overrun_note,
    refit_scale,
    reserve_seconds,
    spent_line,
    tree_nodes,
)
from engine.experiment import RunResult
from engine.tuning.deadline import MEMBERS_SHARE, DeadlinePruner, SearchDeadline
from engine.tuning.ensemble_selection import SCORE_SECONDS, selection_seconds
from engine.tuning.storage import open_storage
from tests.conftest import FAST

Run = Callable[..., RunResult]
CLI = Callable[..., subprocess.CompletedProcess[str]]
QUICK = (*FAST, "tune.plots=false", "report=false", "metrics.bootstrap.resamples=0",
         "metrics.explain.importance_repeats=0")
STARTED = 1_000_000.0


@pytest.fixture(autouse=True)
def studies_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_OUTPUT_DIR", str(tmp_path / "outputs"))


def frozen(state: optuna.trial.TrialState, value: float | None, *, started: datetime.datetime,
           seconds: float | None = None, fit_time: float = 0.0, nodes: int = 0,
           intermediate: dict[int, float] | None = None) -> optuna.trial.FrozenTrial:
    """A trial as Optuna records it, with the times (and its forest's nodes) the deadline
    reads."""
    return optuna.trial.FrozenTrial(
        number=0, trial_id=0, state=state, value=value, datetime_start=started,
        datetime_complete=None if seconds is None else
        started + datetime.timedelta(seconds=seconds),
        params={}, distributions={}, user_attrs={"fit_time": fit_time, "tree_nodes": nodes},
        system_attrs={},
        intermediate_values=intermediate or {})


def study_with(*trials: tuple[float, float, float], nodes: tuple[int, ...] = ()
               ) -> optuna.Study:
    """An in-memory study of completed trials: (score, fit seconds per fold, duration), and
    each one's tree nodes (none by default)."""
    study = optuna.create_study(direction="maximize")
    for (score, fit_time, duration), count in zip(trials, nodes or (0,) * len(trials),
                                                  strict=True):
        study.add_trial(frozen(optuna.trial.TrialState.COMPLETE, score,
                               started=datetime.datetime(2026, 1, 1), seconds=duration,
                               fit_time=fit_time, nodes=count))
    return study


def test_the_reserve_is_the_refit_by_rows_its_evaluation_and_a_floor() -> None:
    budget = Budget(100.0, started=STARTED)
    assert budget.end == STARTED + 100.0
    # 5 folds of 800 training rows each out of 1000: a refit costs 1.25 fold fits.
    assert refit_scale(1000, [800] * 5, refits_on_folds=False) == 1.25
    assert refit_scale(1000, [800] * 5, refits_on_folds=True) == 1.25 * 6
    refit = 2.0 * 1.25
    assert reserve_seconds(budget, 2.0, 1.25) == pytest.approx(
        refit * 4 + FLOOR_SECONDS + SHARE * 100)
    # Begun on a busy machine, the floor grows with the load, up to MOST_BUSY times.
    assert FLOOR_SECONDS <= budget.begun(STARTED).floor <= FLOOR_SECONDS * MOST_BUSY


def test_the_search_is_given_the_budget_left_less_the_reserve_of_its_best_trial() -> None:
    budget = Budget(100.0, started=STARTED)
    deadline = SearchDeadline(None, budget, refit_scale=1.25, folds=5)
    assert deadline.at(study_with()) == float("inf")  # the first trial always completes
    study = study_with((0.80, 1.0, 6.0), (0.90, 2.0, 12.0), (0.85, 9.0, 50.0))
    # The refit is the best trial's (0.90: 2 s a fold), not the slowest's.
    assert deadline.at(study) == pytest.approx(budget.end - reserve_seconds(budget, 2.0, 1.25))
    assert deadline.fold_seconds(study) == pytest.approx(12.0 / 5)  # the median trial's
    # No deadline while a model's defaults trial has not finished: never worse than them.
    study.enqueue_trial({}, user_attrs={"start": "defaults"})
    assert deadline.at(study) == float("inf")


def test_an_ensemble_reserves_its_members_refits_and_its_selection() -> None:
    budget = Budget(1000.0, started=STARTED)  # its share for the members is not reached
    study = study_with((0.80, 1.0, 6.0), (0.90, 2.0, 12.0), (0.85, 9.0, 50.0))
    selection = selection_seconds(size=10, rounds=25, folds=5)
    assert selection == pytest.approx(SCORE_SECONDS * 10 * 25 * 6)
    deadline = SearchDeadline(None, budget, 1.25, 5, refits=2, selection_seconds=selection)
    # The two best trials' refits (2 s and 9 s a fold); the evaluation's share counts the
    # best one's (the members are evaluated together, in one pass of predictions).
    assert deadline.at(study) == pytest.approx(
        budget.end - selection - 9.0 * 1.25 - reserve_seconds(budget, 2.0, 1.25))


def test_saving_the_trees_is_reserved_the_members_up_to_a_share_of_the_budget() -> None:
    budget = Budget(1000.0, started=STARTED)
    trials = ((0.80, 1.0, 6.0), (0.90, 2.0, 12.0), (0.85, 9.0, 50.0))
    plain = study_with(*trials)
    forests = study_with(*trials, nodes=(10_000_000, 200_000, 100_000))

    def at(study: optuna.Study, refits: int) -> float:
        return SearchDeadline(None, budget, 1.25, 5, refits=refits).at(study)

    best, member = 200_000 * SAVE_SECONDS_PER_NODE, 100_000 * SAVE_SECONDS_PER_NODE
    # The best trial's forest (0.90), scaled by rows like its refit.
    assert at(forests, 1) == pytest.approx(at(plain, 1) - best * 1.25)
    # An ensemble's next member (0.85): its trees too.
    assert at(forests, 2) == pytest.approx(at(plain, 2) - (best + member) * 1.25)
    # With the third (10 million nodes), the members' refits and trees are capped.
    assert at(forests, 3) == pytest.approx(at(plain, 1) - best * 1.25 - MEMBERS_SHARE * 1000)


def test_tree_nodes_counts_every_fitted_scikit_learn_tree() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    forest = ExtraTreesClassifier(n_estimators=5, random_state=0).fit(X, y)
    in_forest = sum(tree.tree_.node_count for tree in forest.estimators_)
    assert tree_nodes(forest) == in_forest > 0
    assert tree_nodes(make_pipeline(StandardScaler(), forest)) == in_forest
    calibrated = CalibratedClassifierCV(ExtraTreesClassifier(n_estimators=5), cv=3).fit(X, y)
    assert tree_nodes(calibrated) == sum(tree_nodes(part.estimator)
                                         for part in calibrated.calibrated_classifiers_) > 0
    boosted = GradientBoostingClassifier(n_estimators=3).fit(X, y)
    assert tree_nodes(boosted) == sum(t.tree_.node_count for t in boosted.estimators_.ravel())
    assert tree_nodes(LogisticRegression(max_iter=5000).fit(X, y)) == 0
    assert tree_nodes(ExtraTreesClassifier()) == 0  # not fitted: nothing to save yet


def test_a_search_trial_records_its_forests_nodes(run: Run, tmp_path: Path) -> None:
    result = run("model=random_forest", "model.search_space.n_estimators.high=150",
                 "tune=random", "tune.n_trials=2", *QUICK)
    name = result.metrics["tuning"]["study_name"]
    study = optuna.load_study(study_name=name, storage=open_storage(
        None, name, tmp_path / "outputs" / "studies"))
    assert all(t.user_attrs["tree_nodes"] > 100 for t in study.trials)


@pytest.mark.parametrize(("timeout_end", "wins"), [(STARTED + 10.0, "timeout"),
                                                   (STARTED + 1000.0, "budget")])
def test_the_smaller_of_tune_timeout_and_the_budget_wins(timeout_end: float, wins: str) -> None:
    budget = Budget(100.0, started=STARTED)
    study = study_with((0.9, 1.0, 5.0))
    at = SearchDeadline(timeout_end, budget, 1.0, 5).at(study)
    from_budget = budget.end - reserve_seconds(budget, 1.0, 1.0)
    assert at == (timeout_end if wins == "timeout" else from_budget)


def test_a_running_trial_is_pruned_when_its_next_fold_would_end_past_the_deadline() -> None:
    study = study_with((0.9, 1.0, 5.0))
    trial = frozen(optuna.trial.TrialState.RUNNING, None, intermediate={0: 0.8, 1: 0.8},
                   started=datetime.datetime.now() - datetime.timedelta(seconds=20))
    # 20 s for two folds: a third fold ends 10 s from now.
    soon = Budget(30.0, started=datetime.datetime.now().timestamp() - 25.0)
    later = Budget(3600.0, started=datetime.datetime.now().timestamp())
    nop = optuna.pruners.NopPruner()
    assert DeadlinePruner(nop, SearchDeadline(None, soon, 1.0, 5)).prune(study, trial)
    assert not DeadlinePruner(nop, SearchDeadline(None, later, 1.0, 5)).prune(study, trial)
    assert not DeadlinePruner(nop, SearchDeadline(None, None, 1.0, 5)).prune(study, trial)


def test_the_budget_line_names_each_stage_and_an_overrun_is_a_warning() -> None:
    timing = {"startup_seconds": 1.94, "prepare_seconds": 1.2, "tune_seconds": 51.0,
              "search_given_seconds": 52.3, "fit_seconds": 2.1, "evaluate_seconds": 0.8,
              "save_seconds": 1.4, "report_seconds": 0.3, "total_seconds": 57.0}
    assert spent_line(Budget(60.0), timing, 58.9) == (
        "budget 60 s: start 1.9, prepare 1.2, search 51.0 (given 52.3), refit 2.1, evaluate "
        "0.8, save 1.4, report 0.3, total 58.9")
    assert overrun_note(Budget(60.0), 62.9, searching=True) is None  # within 3 s
    assert overrun_note(Budget(100.0), 104.9, searching=True) is None  # within 5 %
    note = overrun_note(Budget(10.0), 25.3, searching=False)
    assert note is not None and note.startswith("budget=10: the command took 25.3 s;")
    assert "split.cv.n_splits" in note


@pytest.mark.slow
def test_a_budgeted_search_records_the_budget_and_every_stage(run: Run) -> None:
    result = run("model=knn", "tune=tpe", "tune.n_trials=null", "budget=15", *QUICK)
    timing = json.loads((result.run_dir / "run.json").read_text())["timing"]
    assert timing["budget_seconds"] == 15
    stages = ("prepare_seconds", "tune_seconds", "fit_seconds", "evaluate_seconds",
              "save_seconds")
    assert all(timing[stage] >= 0 for stage in stages)
    assert timing["search_given_seconds"] < 15
    assert result.metrics["tuning"]["search_given_seconds"] == timing["search_given_seconds"]


def test_a_budget_without_a_search_records_the_cross_validation(run: Run) -> None:
    result = run("model=knn", "budget=300", *QUICK)
    timing = json.loads((result.run_dir / "run.json").read_text())["timing"]
    assert timing["budget_seconds"] == 300 and timing["cv_seconds"] > 0
    assert "search_given_seconds" not in timing


@pytest.mark.parametrize(("overrides", "message"), [
    (["budget=-1"], "budget: -1 is not a number > 0.0"),
    (["budget=abc"], "budget: must be a number, got 'abc'"),
    (["tune=tpe", "tune.n_trials=null"], "tune: give a budget: budget=<seconds>"),
])
def test_bad_budgets_exit_2_with_one_line(in_process_cli: CLI, overrides: list[str],
                                          message: str) -> None:
    result = in_process_cli(*overrides)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
