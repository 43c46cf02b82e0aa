"""Diagnostics, calibration and the decision threshold, on known inputs and end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, confusion_matrix, f1_score, roc_auc_score

from engine.config.schema import MetricsConfig, parse_section
from engine.deploy.bundle import load_bundle
from engine.errors import ConfigError
from engine.evaluation.decision_threshold import check_costs, check_threshold_task, tune_threshold
from engine.evaluation.diagnostics import classification_diagnostics, regression_diagnostics
from tests.conftest import FAST


def test_classification_diagnostics_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    proba1 = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    proba = np.column_stack([1 - proba1, proba1])
    predicted = (proba1 >= 0.5).astype(int)
    record = classification_diagnostics(y, predicted, proba, ["no", "yes"], bins=10)
    assert record["confusion_matrix"] == confusion_matrix(y, predicted).tolist()
    assert record["roc"]["yes"]["auc"] == pytest.approx(roc_auc_score(y, proba1))
    assert record["calibration"]["brier"] == pytest.approx(brier_score_loss(y, proba1))
    assert sum(record["calibration"]["counts"]) == 300
    assert record["precision_recall"]["yes"]["prevalence"] == pytest.approx(y.mean())


def test_multiclass_has_a_curve_per_class_and_top_label_calibration() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    proba = rng.dirichlet([1, 1, 1], 200)
    record = classification_diagnostics(y, proba.argmax(1), proba, ["a", "b", "c"], bins=5)
    assert set(record["roc"]) == {"a", "b", "c"}
    assert record["calibration"]["of"] == "top label"


def test_regression_error_by_target_decile_covers_every_row_in_order() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=1000)
    record = regression_diagnostics(y, y * 0.5, seed=0)
    deciles = record["by_target_decile"]
    assert sum(d["rows"] for d in deciles) == 1000 and len(deciles) == 10
    lows = [d["target_range"][0] for d in deciles]
    assert lows == sorted(lows)
    assert deciles[0]["bias"] < 0 < deciles[-1]["bias"]  # shrunk predictions: under, then over
    assert record["shown_rows"] == 1000


def test_the_cost_threshold_minimises_the_mean_cost() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2000)
    positive = 0.3 * y + rng.random(2000) * 0.7  # overlapping between 0.3 and 0.7
    costs = np.array([[0.0, 5.0], [1.0, 0.0]])  # a negative predicted positive costs 5
    tuned = tune_threshold(y, positive, "cost", costs)
    brute = min(np.unique(positive), key=lambda t: (
        5 * ((positive >= t) & (y == 0)).sum() + ((positive < t) & (y == 1)).sum()))
    mean_cost = (5 * ((positive >= brute) & (y == 0)).sum()
                 + ((positive < brute) & (y == 1)).sum()) / 2000
    assert mean_cost <= -tuned["value"] <= mean_cost + 0.005  # 201 quantiles, not every value
    assert tuned["threshold"] > 0.5  # expensive false positives push the threshold up
    assert tuned["value"] >= tuned["value_at_0.5"]
    by_f1 = tune_threshold(y, positive, "f1", None)
    assert by_f1["value"] == pytest.approx(f1_score(y, positive >= by_f1["threshold"]))


def test_threshold_and_cost_mistakes_are_refused() -> None:
    with pytest.raises(ConfigError, match="binary targets only and this target is multiclass"):
        check_threshold_task("f1", "multiclass", True)
    with pytest.raises(ConfigError, match="roc_auc scores probabilities"):
        parse_section(MetricsConfig, {"threshold": "roc_auc"})
    with pytest.raises(ConfigError, match=r"'goood' is not a class.*Did you mean 'good'"):
        check_costs({"bad": {"goood": 5}}, ["bad", "good"])


def test_a_tuned_threshold_is_baked_into_the_bundle(run, tmp_path) -> None:
    result = run(*FAST, "metrics.threshold=cost", "metrics.costs={1: {0: 5}}",
                 "metrics.calibration=sigmoid")
    decision = result.metrics["decision"]
    threshold = decision["threshold"]["threshold"]
    assert decision["calibration"]["method"] == "sigmoid" and threshold != 0.5
    bundle = load_bundle(result.run_dir)
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer(as_frame=True).data
    proba = bundle.pipeline.predict_proba(X)[:, 1]
    assert (bundle.pipeline.predict(X) == (proba >= threshold)).all()
    evaluated = json.loads((result.run_dir / "evaluation.json").read_text())
    assert set(evaluated) >= {"diagnostics", "importance", "partial_dependence"}


def test_a_bad_evaluation_setting_exits_2_with_the_key(in_process_cli) -> None:
    cli = in_process_cli
    typo = cli("metrics.threshold=f11")
    assert typo.returncode == 2 and "Did you mean 'f1'" in typo.stderr
    column = cli("metrics.slices.columns=[mean radus]")
    assert column.returncode == 2
    assert "metrics.slices.columns: column 'mean radus'" in column.stderr
    assert "Did you mean 'mean radius'" in column.stderr
    multiclass = cli("dataset=iris", "metrics.threshold=f1")
    assert multiclass.returncode == 2 and "binary targets only" in multiclass.stderr
    method = cli("metrics.calibration=platt")
    assert method.returncode == 2 and "sigmoid" in method.stderr
    regression = cli("dataset=diabetes", "metrics.calibration=sigmoid")
    assert regression.returncode == 2 and "this target is regression" in regression.stderr
    repeated = cli("split=repeated", "metrics.threshold=f1")
    assert repeated.returncode == 2
    assert "split.cv.strategy=repeated" in repeated.stderr and "Traceback" not in repeated.stderr
    limit = cli("metrics.fairness.limits.equalized_odds_difference=0.2")
    assert limit.returncode == 2
    assert "metrics.fairness.limits.equalized_odds_difference: expected a mapping" in limit.stderr
    cost = cli("metrics.threshold=cost", "metrics.costs={1: {2: 5}}")
    assert cost.returncode == 2 and "'2' is not a class of the target" in cost.stderr


