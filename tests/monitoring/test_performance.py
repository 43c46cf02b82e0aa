"""Performance measured with labels (the evaluation's own scorers and bootstrap) and estimated
without them (CBPE), on a real fitted model and seeded data with a known P(y | x)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from engine.config.schema.monitor import PerformanceConfig
from engine.monitoring.columns import PREDICTION, TARGET, probability_column
from engine.monitoring.performance import (
    calibrate,
    encode_labels,
    estimated,
    realised,
)
from engine.tracking.records import (
    CalibrationMap,
    CategoricalProfile,
    Interval,
    ReferenceProfile,
)

CLASSES = [0, 1]
HELD_OUT = 20_000
OVERCONFIDENT = 2.5
"""The model reads its inputs scaled by this: its probabilities are too close to 0 and 1."""


def draw(rows: int, rng: np.random.Generator, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal([shift, 0.0], 1.0, size=(rows, 2))
    logit = 1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.3
    return x, (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)


@pytest.fixture(scope="module")
def fitted() -> tuple[LogisticRegression, ReferenceProfile]:
    """A deliberately miscalibrated model (overconfident) and a profile whose
    isotonic maps come from 20,000 held-out rows, as the bundle's reference profile's do."""
    rng = np.random.default_rng(0)
    x, y = draw(300, rng)
    model = LogisticRegression(C=100.0).fit(x, y)
    held_x, held_y = draw(HELD_OUT, rng)
    proba = model.predict_proba(held_x * OVERCONFIDENT)
    maps = {}
    for index, label in enumerate(CLASSES):
        isotonic = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")
        isotonic.fit(proba[:, index], (held_y == label).astype(float))
        maps[str(label)] = CalibrationMap(x=isotonic.X_thresholds_.tolist(),
                                          y=isotonic.y_thresholds_.tolist())
    predicted = proba.argmax(axis=1)
    scores = {"accuracy": accuracy_score(held_y, predicted),
              "roc_auc": roc_auc_score(held_y, proba[:, 1])}
    shares = CategoricalProfile(shares={"0": 0.5, "1": 0.5}, missing=0.0, count=4000)
    profile = ReferenceProfile(
        rows=4000, columns={}, prediction=shares, target=shares, scores=scores,
        intervals={"accuracy": Interval(low=scores["accuracy"] - 0.01,
                                        high=scores["accuracy"] + 0.01, std=0.005)},
        calibration=maps, out_of_sample=True, sample_rows=0, seed=0)
    return model, profile


def chunk(model: LogisticRegression, x: np.ndarray, y: np.ndarray | None) -> pd.DataFrame:
    proba = model.predict_proba(x * OVERCONFIDENT)
    frame = pd.DataFrame({PREDICTION: proba.argmax(axis=1),
                          probability_column(0): proba[:, 0], probability_column(1): proba[:, 1]})
    if y is not None:
        frame[TARGET] = y
    return frame


def test_the_estimate_falls_inside_the_realised_interval_under_covariate_shift(fitted) -> None:
    model, profile = fitted
    settings = PerformanceConfig(resamples=300)
    rng = np.random.default_rng(1)
    inside = {"accuracy": 0, "roc_auc": 0}
    batches = 40
    for batch in range(batches):
        x, y = draw(1000, rng, shift=0.8)  # the inputs move, P(y | x) does not
        rows = chunk(model, x, y)
        measured = {m.metric: m for m in realised(rows, classes=CLASSES, metrics=list(inside),
                                                   profile=profile, settings=settings,
                                                   seed=batch)}
        estimate = estimated(rows.drop(columns=TARGET), task="binary", classes=CLASSES,
                             profile=profile, settings=settings, seed=batch)
        assert estimate.valid and "P(y | x)" in estimate.reason
        for guess in estimate.metrics:
            real = measured[guess.metric]
            assert guess.low is not None and guess.high is not None and guess.low < guess.high
            inside[guess.metric] += real.low <= guess.value <= real.high
    assert inside["accuracy"] >= 0.9 * batches and inside["roc_auc"] >= 0.9 * batches, inside


def test_uncalibrated_probabilities_would_miss_what_the_calibrated_ones_find(fitted) -> None:
    """The model is overconfident: the mean raw probability of the predicted class overstates
    its accuracy, the calibrated one does not."""
    model, profile = fitted
    x, y = draw(20_000, np.random.default_rng(2))
    rows = chunk(model, x, None)
    raw = rows[[probability_column(0), probability_column(1)]].max(axis=1).mean()
    estimate = estimated(rows, task="binary", classes=CLASSES, profile=profile,
                         settings=PerformanceConfig(resamples=0), seed=0)
    accuracy = next(m for m in estimate.metrics if m.metric == "accuracy")
    truth = accuracy_score(y, rows[PREDICTION])
    assert abs(accuracy.value - truth) < 0.01 < raw - truth
    assert accuracy.low is None  # no resamples, no interval


def test_realised_scores_are_scikit_learns_on_the_same_rows(fitted) -> None:
    model, profile = fitted
    x, y = draw(700, np.random.default_rng(3))
    rows = chunk(model, x, y)
    rows[TARGET] = np.where(y == 1, "1", "0")  # labels as a CSV or JSON feedback gives them
    rows.loc[:9, TARGET] = None  # not labelled yet
    found = {m.metric: m for m in realised(
        rows, classes=CLASSES, metrics=["accuracy", "roc_auc", "f1", "neg_log_loss"],
        profile=profile, settings=PerformanceConfig(resamples=100), seed=0)}
    proba = model.predict_proba(x[10:] * OVERCONFIDENT)
    expected = {"accuracy": accuracy_score(y[10:], proba.argmax(axis=1)),
                "roc_auc": roc_auc_score(y[10:], proba[:, 1]),
                "f1": f1_score(y[10:], proba.argmax(axis=1)),
                "neg_log_loss": -log_loss(y[10:], proba)}
    for name, value in expected.items():
        assert found[name].value == pytest.approx(value), name
        assert found[name].rows == 690
        assert found[name].low <= found[name].value <= found[name].high
    assert found["accuracy"].reference == profile.scores["accuracy"]
    assert found["accuracy"].reference_low == pytest.approx(profile.scores["accuracy"] - 0.01)


def test_decay_is_a_score_below_the_reference_by_more_than_the_tolerance(fitted) -> None:
    model, profile = fitted
    x, y = draw(1000, np.random.default_rng(4))
    flipped = np.where(np.arange(1000) % 4 == 0, 1 - y, y)  # P(y | x) changed
    rows = chunk(model, x, flipped)
    for tolerance, decayed in ((0.05, True), (0.9, False)):
        (accuracy,) = realised(rows, classes=CLASSES, metrics=["accuracy"], profile=profile,
                               settings=PerformanceConfig(resamples=0, tolerance=tolerance),
                               seed=0)
        reference = profile.scores["accuracy"]
        assert accuracy.threshold == pytest.approx(reference * (1 - tolerance))
        assert accuracy.decayed is decayed


def test_when_the_estimate_is_not_valid_it_says_why(fitted) -> None:
    model, profile = fitted
    x, _ = draw(200, np.random.default_rng(5))
    rows = chunk(model, x, None)
    settings = PerformanceConfig()

    def reason(frame: pd.DataFrame, task: str = "binary", **changes) -> str:
        estimate = estimated(frame, task=task, classes=CLASSES,
                             profile=profile.model_copy(update=changes), settings=settings,
                             seed=0)
        assert not estimate.valid and not estimate.metrics
        return estimate.reason

    assert "regression" in reason(rows, task="regression")
    assert "training rows" in reason(rows, out_of_sample=False)
    assert "calibration map" in reason(rows, calibration={})
    assert "no class probabilities" in reason(rows[[PREDICTION]])


def test_multiclass_is_calibrated_per_class_and_renormalised() -> None:
    maps = {str(c): CalibrationMap(x=[0.0, 1.0], y=[0.0, 0.5]) for c in ("a", "b", "c")}
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    calibrated = calibrate(proba, maps, ["a", "b", "c"])
    assert calibrated is not None
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)
    np.testing.assert_allclose(calibrated, proba)  # a uniform halving, undone by renormalising
    assert calibrate(proba, {"a": maps["a"]}, ["a", "b", "c"]) is None
    frame = pd.DataFrame({PREDICTION: ["a", "c"],
                          **{probability_column(c): proba[:, i] for i, c in enumerate("abc")}})
    profile = ReferenceProfile(
        rows=2, columns={}, prediction=CategoricalProfile(shares={}, missing=0, count=0),
        target=CategoricalProfile(shares={}, missing=0, count=0), scores={},
        calibration=maps, out_of_sample=True, sample_rows=0, seed=0)
    estimate = estimated(frame, task="multiclass", classes=["a", "b", "c"], profile=profile,
                         settings=PerformanceConfig(resamples=50), seed=0)
    assert estimate.valid and [m.metric for m in estimate.metrics] == ["accuracy"]
    assert estimate.metrics[0].value == pytest.approx(0.6)
    assert "binary classifiers only" in estimate.reason


def test_labels_are_matched_to_classes_whatever_their_type() -> None:
    values = pd.Series([1, "0", 1.0, "1.0", True, None, "cat"], dtype=object)
    assert encode_labels(values, [0, 1]).tolist() == [1, 0, 1, 1, -1, -1, -1]
    assert encode_labels(pd.Series([True, False]), [False, True]).tolist() == [1, 0]
