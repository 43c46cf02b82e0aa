"""Greedy ensemble selection over a search's trials: the selection on synthetic out-of-fold
predictions, the ensemble estimator, and real searches where the ensemble is used (saved,
predicted by ``engine predict``, served over HTTP) and where it is not (recorded why)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from engine.budget import Budget
from engine.config.compose import compose_spec
from engine.evaluation.metrics import MetricSet
from engine.experiment import run_experiment
from engine.models.ensemble import (
    WeightedEnsembleClassifier,
    WeightedEnsembleRegressor,
    ensemble_pipeline,
)
from engine.reporting.run_report import write_run_report
from engine.tracking.records import RunRecord, read_metrics, read_run
from engine.tracking.summary import print_summary
from engine.tuning.ensemble_selection import (
    SELECTION_ROWS,
    BlendScorer,
    EnsembleChoice,
    decide,
    greedy_weights,
    nested_cv,
    within_budget,
)
from tests.conftest import REPO, run_main
from tests.deploy.conftest import start_server

SEARCH = ("tune=tpe", "tune.n_trials=10", "tune.models=[logistic_regression,hist_gbm]",
          "tune.ensemble.size=6", "split.cv.n_splits=3", "report=false")


def negative_squared_error(target: np.ndarray) -> Callable[[np.ndarray], float]:
    return lambda blend: -float(np.mean((blend - target) ** 2))


def test_greedy_selection_averages_complementary_predictions() -> None:
    target = np.zeros(4)
    high, low = target + 1.0, target - 1.0  # each alone is off by 1; their mean is exact
    weights = greedy_weights([high, low], negative_squared_error(target), rounds=10)
    np.testing.assert_allclose(weights, [0.5, 0.5])


def test_greedy_selection_starts_from_the_best_single_and_keeps_it_when_nothing_helps() -> None:
    target = np.zeros(4)
    best, worse = target + 0.1, target + 2.0
    weights = greedy_weights([worse, best], negative_squared_error(target), rounds=25)
    np.testing.assert_allclose(weights, [0.0, 1.0])


def test_greedy_selection_gives_ties_to_the_better_ranked_candidate() -> None:
    target = np.zeros(3)
    same = target + 0.5
    weights = greedy_weights([same, same.copy()], negative_squared_error(target), rounds=4)
    np.testing.assert_allclose(weights, [1.0, 0.0])


def test_greedy_weights_are_shares_of_the_rounds() -> None:
    target = np.zeros(6)
    a, b = target + 1.0, target - 3.0  # the best mix is 3 parts a to 1 part b
    weights = greedy_weights([a, b], negative_squared_error(target), rounds=8)
    np.testing.assert_allclose(weights, [0.75, 0.25])


class Synthetic:
    """300 labelled rows in 3 folds, and out-of-fold probabilities of made-up trials."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.y = self.rng.integers(0, 2, 300)
        self.folds = [(np.setdiff1d(np.arange(300), rows), rows)
                      for rows in np.array_split(self.rng.permutation(300), 3)]
        self.scorer = BlendScorer(self.y, "binary",
                                  MetricSet("roc_auc", ("roc_auc", "accuracy")))

    def trial(self, noise: float, signal: float = 0.2) -> np.ndarray:
        p = np.clip(0.5 + np.where(self.y == 1, signal, -signal)
                    + self.rng.normal(0, noise, 300), 0.01, 0.99)
        return np.column_stack([1 - p, p])

    def cv(self, predictions: np.ndarray) -> float:
        return float(np.mean([self.scorer.primary(predictions[test], test)
                              for _, test in self.folds]))


def test_the_selection_scores_blends_on_a_bounded_sample_keeping_each_class() -> None:
    y = np.r_[np.zeros(10_000, dtype=int), np.ones(2_000, dtype=int)]
    scorer = BlendScorer(y, "binary", MetricSet("roc_auc", ("roc_auc",)))
    rows = np.arange(1, 12_000, 1)
    picked = scorer.selection_rows(rows)
    assert len(picked) <= SELECTION_ROWS + 2 and np.all(np.diff(picked) > 0)
    assert set(picked) <= set(rows)
    assert np.mean(y[picked]) == pytest.approx(np.mean(y[rows]), abs=0.01)
    np.testing.assert_array_equal(scorer.selection_rows(rows[:900]), rows[:900])


def test_nested_cv_scores_each_fold_with_weights_selected_on_the_others() -> None:
    data = Synthetic()
    members = [data.trial(0.35), data.trial(0.35), data.trial(0.35)]
    cv = nested_cv(members, data.folds, data.scorer, rounds=15).summary()
    assert set(cv) == {"roc_auc", "accuracy"} and len(cv["roc_auc"]["folds"]) == 3
    assert cv["roc_auc"]["mean"] > max(map(data.cv, members))  # independent errors average out


def test_an_ensemble_of_independent_errors_is_used_with_its_nested_scores() -> None:
    data = Synthetic()
    members = [data.trial(0.35), data.trial(0.35), data.trial(0.35)]
    best = max(map(data.cv, members))
    decision = decide(members, [7, 3, 5], data.folds, data.scorer, rounds=15, single=best)
    record = decision.record
    assert record["chosen"] is True and decision.cv is not None
    assert record["reason"] == "it beats the best single trial in nested CV"
    assert set(record["weights"]) == {7, 3, 5} and sum(record["weights"].values()) == 1
    assert record["ensemble_cv"] == decision.cv["roc_auc"]["mean"] > best
    assert record["in_sample_cv"] >= record["ensemble_cv"]  # selection's optimism


def test_an_ensemble_that_wins_only_on_the_rows_that_selected_it_is_not_used() -> None:
    data = Synthetic()
    members = [data.trial(0.3, signal=0.0) for _ in range(6)]  # noise: no trial knows anything
    nested = nested_cv(members, data.folds, data.scorer, rounds=25).summary()["roc_auc"]["mean"]
    decision = decide(members, list(range(6)), data.folds, data.scorer, rounds=25,
                      single=nested + 0.005)
    record = decision.record
    assert record["in_sample_cv"] > nested + 0.005  # selected on its own rows, it would win
    assert record["chosen"] is False and decision.cv is None
    assert record["reason"] == "it does not beat the best single trial in nested CV"


def test_a_trial_no_other_improves_is_kept_alone_and_no_ensemble_is_used() -> None:
    data = Synthetic()
    members = [data.trial(0.01, signal=0.3), data.trial(0.5)]
    decision = decide(members, [1, 2], data.folds, data.scorer, rounds=10,
                      single=data.cv(members[0]))
    assert decision.record["weights"] == {1: 1.0} and decision.cv is None
    assert decision.record["reason"] == "the selection kept one trial alone"


def test_under_a_budget_the_candidates_are_the_trials_whose_refits_and_saving_fit() -> None:
    spec = compose_spec(["tune=tpe", "tune.n_trials=10", "tune.ensemble.size=10"])
    folds = [(np.arange(800), np.arange(800, 1000))] * 5  # a refit: 1.25 fold fits
    trials = [SimpleNamespace(number=number, user_attrs={"fit_time": fit, "tree_nodes": nodes})
              for number, fit, nodes in [(0, 0.1, 0), (1, 1.0, 0), (2, 0.1, 5_000_000),
                                         (3, 2.0, 10_000)]]
    # About 54 s are left after the picked trial's stages and its selection: the forest of
    # trial 2 (5 million nodes: 62 s to refit and save) does not fit; the others do.
    budgeted = dataclasses.replace(spec, budget=Budget(60.0, started=time.time()))
    within, late = within_budget(budgeted, trials, trials[0], folds, n_rows=1000)
    assert [t.number for t in within] == [0, 1, 3] and [t.number for t in late] == [2]
    # Once the budget is nearly spent, only the picked trial is left: no ensemble.
    spent = dataclasses.replace(spec, budget=Budget(60.0, started=time.time() - 55.0))
    within, late = within_budget(spent, trials, trials[0], folds, n_rows=1000)
    assert [t.number for t in within] == [0] and len(late) == 3
    assert within_budget(spec, trials, trials[0], folds, n_rows=1000) == (trials, [])


def test_a_regression_ensemble_averages_predictions_scored_by_the_primary_metric() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=200)
    folds = [(np.setdiff1d(np.arange(200), rows), rows)
             for rows in np.array_split(rng.permutation(200), 4)]
    scorer = BlendScorer(y, "regression", MetricSet("neg_root_mean_squared_error",
                                                    ("neg_root_mean_squared_error", "r2")))
    members = [y + rng.normal(0, 0.5, 200) for _ in range(3)]
    decision = decide(members, [0, 1, 2], folds, scorer, rounds=12, single=-0.5)
    assert decision.record["chosen"] is True and decision.cv is not None
    assert -0.5 < decision.cv["neg_root_mean_squared_error"]["mean"] < -0.25  # ~0.5 / sqrt(3)
    assert set(decision.cv) == {"neg_root_mean_squared_error", "r2"}


@pytest.fixture
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    return X, (X["a"] + rng.normal(0, 0.5, 80) > 0).astype(int).to_numpy()


def test_the_ensemble_refits_its_weighted_members_and_averages_their_probabilities(
        frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = frame
    strong = make_pipeline(StandardScaler(), LogisticRegression(C=10.0))
    weak = make_pipeline(StandardScaler(), LogisticRegression(C=0.01))
    unused = make_pipeline(StandardScaler(), LogisticRegression(C=1.0))
    ensemble = WeightedEnsembleClassifier([strong, weak, unused], [0.75, 0.25, 0.0]).fit(X, y)
    assert len(ensemble.members_) == 2 and not hasattr(strong[-1], "coef_")  # fresh copies
    expected = (0.75 * strong.fit(X, y).predict_proba(X) + 0.25 * weak.fit(X, y).predict_proba(X))
    np.testing.assert_allclose(ensemble.predict_proba(X), expected)
    np.testing.assert_array_equal(ensemble.predict(X), expected.argmax(axis=1))
    pipeline = ensemble_pipeline([strong, weak], [3, 1], classifier=True).fit(X, y)
    np.testing.assert_allclose(pipeline[-1].predict_proba(pipeline[:-1].transform(X)), expected)


def test_the_regression_ensemble_averages_predictions(
        frame: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, _ = frame
    target = X["a"].to_numpy() * 2
    members = [LinearRegression(), LinearRegression(fit_intercept=False)]
    ensemble = WeightedEnsembleRegressor(members, [0.5, 0.5]).fit(X, target)
    np.testing.assert_allclose(ensemble.predict(X), target, atol=1e-9)


@pytest.mark.parametrize("weights", [[1.0], [-1.0, 2.0], [0.0, 0.0]])
def test_the_ensemble_refuses_weights_that_do_not_fit_its_members(
        frame: tuple[pd.DataFrame, np.ndarray], weights: list[float]) -> None:
    X, y = frame
    members = [LogisticRegression(), LogisticRegression(C=0.1)]
    with pytest.raises(ValueError, match=r"WeightedEnsembleClassifier: .*weights"):
        WeightedEnsembleClassifier(members, weights).fit(X, y)


def mixed_table(path: Path) -> Path:
    """A linear part (a logistic regression's strength) plus an interaction (the trees'):
    neither family alone captures both, their average does."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(800, 14))
    logit = X[:, 2:] @ np.full(12, 0.5) + 1.5 * np.sign(X[:, 0] * X[:, 1])
    y = (rng.random(800) < 1 / (1 + np.exp(-logit))).astype(int)
    table = pd.DataFrame(X, columns=[f"x{i}" for i in range(14)]).assign(y=y)
    table.to_csv(path, index=False)
    return path


def train(run_dir: Path, *overrides: str) -> dict[str, object]:
    run_dir.mkdir()
    spec = compose_spec([*overrides, *SEARCH])
    run_experiment(spec, run_dir, project_dir=REPO, console=Console(quiet=True))
    metrics: dict[str, object] = json.loads((run_dir / "metrics.json").read_text())
    return metrics


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    tmp = tmp_path_factory.mktemp("ensemble")
    data = mixed_table(tmp / "mixed.csv")
    run_dir = tmp / "run"
    return run_dir, train(run_dir, "dataset=titanic", f"dataset.path={data}",
                          "dataset.target=y", "dataset.drop=[]")


def test_an_ensemble_that_beats_the_best_trial_is_used_and_recorded(
        ensemble_run: tuple[Path, dict[str, object]]) -> None:
    run_dir, metrics = ensemble_run
    record = metrics["tuning"]["ensemble"]  # type: ignore[index]
    assert record["chosen"] is True, record
    assert record["ensemble_cv"] > record["best_single_cv"]
    assert len(record["weights"]) >= 2 and sum(record["weights"].values()) == pytest.approx(1)
    assert metrics["cv"]["roc_auc"]["folds"] == record["ensemble_cv_folds"]  # type: ignore[index]
    cv_file = pd.read_csv(run_dir / "cv_scores.csv")
    np.testing.assert_allclose(cv_file["roc_auc"], record["ensemble_cv_folds"])
    bundle = json.loads((run_dir / "model" / "metadata.json").read_text())
    assert bundle["model"] == "ensemble"


def test_the_summary_and_the_report_say_the_ensemble_was_refitted(
        ensemble_run: tuple[Path, dict[str, object]]) -> None:
    run_dir, _ = ensemble_run
    run, metrics = read_run(run_dir), read_metrics(run_dir)
    assert isinstance(run, RunRecord)
    console = Console(record=True, width=200)
    print_summary(console, run, metrics)
    said = console.export_text()
    assert "CV: the nested folds of an ensemble of trials" in said
    assert "its members refitted" in said and "'s folds, picked from" not in said
    report = write_run_report(run_dir).read_text()
    assert "Refitted instead: an ensemble of trials" in report


def test_a_budget_spent_by_the_search_leaves_the_ensemble_out_and_says_why(
        tmp_path: Path) -> None:
    data = mixed_table(tmp_path / "mixed.csv")
    spec = compose_spec(["dataset=titanic", f"dataset.path={data}", "dataset.target=y",
                         "dataset.drop=[]", *SEARCH, "budget=30"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # Begun 29 s ago: only the defaults' trials run (they always finish), then no time is left
    # for another member's refit and saving.
    run_experiment(spec, run_dir, project_dir=REPO, console=Console(quiet=True),
                   started=time.time() - 29.0)
    record = json.loads((run_dir / "metrics.json").read_text())["tuning"]["ensemble"]
    assert record["chosen"] is False and record["left_out_for_budget"]
    late = ", ".join(map(str, record["left_out_for_budget"]))
    assert record["reason"] == (f"the refits and saving of trials {late} would not fit the "
                                "budget left; 1 trial(s) would, it needs two")
    assert EnsembleChoice(record).line == f"ensemble: not built: {record['reason']}"
    metadata = json.loads((run_dir / "model" / "metadata.json").read_text())
    assert metadata["model"] != "ensemble"


def test_the_ensemble_line_names_the_trials_the_budget_left_out() -> None:
    record = {"primary": "roc_auc", "weights": {3: 0.75, 7: 0.25}, "in_sample_cv": 0.91,
              "ensemble_cv": 0.9, "best_single_cv": 0.89, "best_single": 3, "chosen": True,
              "reason": "it beats the best single trial in nested CV",
              "left_out_for_budget": [5, 9]}
    assert EnsembleChoice(record).line == (
        "ensemble of trials 3:0.75 7:0.25: roc_auc 0.9000 vs 0.8900 for trial 3: used, it "
        "beats the best single trial in nested CV (trials 5, 9 left out: their refits and "
        "saving would not fit the budget)")


def test_each_completed_trial_kept_its_out_of_fold_predictions(
        ensemble_run: tuple[Path, dict[str, object]]) -> None:
    run_dir, metrics = ensemble_run
    tuning = metrics["tuning"]
    spec = compose_spec(["dataset=titanic"])
    oof = Path(spec.tune.studies_dir) / f"{tuning['study_name']}.oof"  # type: ignore[index]
    trials = pd.read_csv(run_dir / "tuning" / "trials.csv")
    complete = trials.loc[trials["state"] == "COMPLETE", "number"]
    assert sorted(int(p.stem) for p in oof.glob("*.npy")) == sorted(complete)
    predictions = np.load(oof / f"{complete.iloc[0]}.npy")
    assert predictions.shape == (metrics["n_train"], 2)  # every training row, two classes
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0)


@pytest.fixture(scope="module")
def ensemble_server(ensemble_run: tuple[Path, dict[str, object]]) -> Iterator[str]:
    yield from start_server(str(ensemble_run[0]))


def test_the_saved_ensemble_predicts_and_serves_like_any_model(
        ensemble_run: tuple[Path, dict[str, object]], ensemble_server: str,
        tmp_path: Path) -> None:
    run_dir = ensemble_run[0]
    rows = pd.read_csv(run_dir.parent / "mixed.csv").drop(columns="y").head(5)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    done = run_main(["predict", str(run_dir), str(tmp_path / "rows.csv"), "-o",
                     str(tmp_path / "out.csv")], tmp_path)
    assert done.returncode == 0, done.stderr
    batch = pd.read_csv(tmp_path / "out.csv")
    answer = httpx.post(f"{ensemble_server}/predict",
                        json={"records": json.loads(rows.to_json(orient="records"))})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == batch["prediction"].tolist()
    served = np.array([[row["0"], row["1"]] for row in body["probabilities"]])
    np.testing.assert_allclose(served, batch[["proba_0", "proba_1"]].to_numpy(), atol=1e-9)


@pytest.mark.slow
def test_an_ensemble_that_does_not_beat_the_best_trial_is_not_used(tmp_path: Path) -> None:
    metrics = train(tmp_path / "run", "dataset=breast_cancer")
    record = metrics["tuning"]["ensemble"]  # type: ignore[index]
    assert record["chosen"] is False and record["reason"] in (
        "it does not beat the best single trial in nested CV",
        "it does not beat the best single trial even on the rows that selected it",
        "the selection kept one trial alone")
    best = metrics["tuning"]["best_trial"]  # type: ignore[index]
    assert record["best_single"] == best
    assert metrics["cv"]["roc_auc"]["mean"] == record["best_single_cv"]  # type: ignore[index]


@pytest.mark.parametrize(("overrides", "message"), [
    (["deploy.targets=[bundle,onnx]"],
     "deploy.targets: onnx cannot export an ensemble (tune.ensemble.size=6); the bundle "
     "serves it. Drop onnx from deploy.targets, or set tune.ensemble.size=0."),
    (["split.cv.strategy=repeated"],
     "tune.ensemble.size=6: the ensemble is selected on out-of-fold predictions, which need "
     "folds that cover each training row once, but split.cv.strategy=repeated."),
    (["tune.objectives=[roc_auc,fit_time]", "tune.method=nsga2", "tune.pruner=none"],
     "tune.ensemble.size=6: an ensemble is chosen on the primary metric alone"),
])
def test_ensemble_mistakes_exit_2_with_one_line(tmp_path: Path, overrides: list[str],
                                                message: str) -> None:
    done = run_main(["dataset=breast_cancer", *SEARCH, *overrides], tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


@parametrize_with_checks([
    WeightedEnsembleClassifier([LogisticRegression(), LogisticRegression(C=0.1)], [0.5, 0.5]),
    WeightedEnsembleRegressor([LinearRegression(), LinearRegression(fit_intercept=False)],
                              [0.25, 0.75]),
])
def test_the_ensembles_keep_the_estimator_contract(estimator: object, check: Any) -> None:
    check(estimator)
