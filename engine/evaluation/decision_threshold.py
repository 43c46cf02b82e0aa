"""Calibration of the final model and, for binary tasks, a decision threshold tuned on CV folds.

The threshold is chosen on the out-of-fold probabilities of the training rows (never the test
rows), to maximise a scorer or to minimise a cost matrix, and baked into the model bundle with
scikit-learn's ``FixedThresholdClassifier``, so ``predict``, the report and the served model all
use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import get_scorer
from sklearn.model_selection import FixedThresholdClassifier, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from engine.errors import ConfigError, did_you_mean
from engine.evaluation.scoring import fit_pipeline
from engine.evaluation.settings import EvaluationSettings

CANDIDATES = 201
"""Thresholds tried: this many quantiles of the out-of-fold probabilities, plus 0.5."""


def with_calibration(pipeline: Pipeline, method: str, cv: Any) -> Pipeline:
    """The Pipeline with its model wrapped in ``CalibratedClassifierCV``: one model refitted on
    all rows, its probabilities mapped by a calibrator fitted on out-of-fold predictions of
    ``cv`` (a list of folds, or a splitter)."""
    calibrated = clone(pipeline)
    model = calibrated.steps[-1][1]
    calibrated.steps[-1] = ("model", CalibratedClassifierCV(model, method=method, ensemble=False,
                                                            cv=cv))
    return calibrated


def check_threshold_task(objective: str, task: str, has_probabilities: bool) -> None:
    """A tuned threshold needs a binary task, probabilities and a scorer of hard predictions."""
    if task != "binary":
        raise ConfigError(f"metrics.threshold: a decision threshold applies to binary targets "
                          f"only and this target is {task}. Remove metrics.threshold.")
    if not has_probabilities:
        raise ConfigError("metrics.threshold: the model gives no class probabilities "
                          "(predict_proba) to threshold. Use another model or drop the option.")
    if objective != "cost" and get_scorer(objective)._response_method != "predict":
        raise ConfigError(f"metrics.threshold: {objective} scores probabilities, so no threshold "
                          "changes it. Use a scorer of predicted labels such as f1, "
                          "balanced_accuracy or accuracy, or cost.")


def check_costs(costs: Mapping[str, Mapping[str, float]], classes: list[Any]) -> np.ndarray:
    """``costs`` as a 2x2 matrix ``[actual, predicted]`` over the encoded classes."""
    labels = [str(c) for c in classes]
    matrix = np.zeros((len(labels), len(labels)))
    for actual, row in costs.items():
        for predicted, cost in row.items():
            for label in (actual, predicted):
                if label not in labels:
                    raise ConfigError(
                        f"metrics.costs: {label!r} is not a class of the target."
                        f"{did_you_mean(label, labels)} Classes: {', '.join(labels)}.")
            matrix[labels.index(actual), labels.index(predicted)] = cost
    return matrix


def tune_threshold(y: np.ndarray, positive: np.ndarray, objective: str,
                   costs: np.ndarray | None) -> dict[str, Any]:
    """The threshold on P(positive) that scores best on out-of-fold rows, and the curve.

    ``y`` is encoded 0/1; ``positive`` the out-of-fold probabilities of class 1.
    """
    thresholds = np.unique(np.r_[np.quantile(positive, np.linspace(0, 1, CANDIDATES)), 0.5])
    predicted = positive[None, :] >= thresholds[:, None]
    if objective == "cost":
        actual_positive = y == 1
        fp = (predicted & ~actual_positive).sum(axis=1)
        fn = (~predicted & actual_positive).sum(axis=1)
        tp = (predicted & actual_positive).sum(axis=1)
        tn = len(y) - fp - fn - tp
        values = -(tn * costs[0, 0] + fp * costs[0, 1] + fn * costs[1, 0] + tp * costs[1, 1]
                   ) / len(y)  # minus the mean cost a row, so that greater is better
    else:
        scorer = get_scorer(objective)
        function, kwargs, sign = scorer._score_func, scorer._kwargs, scorer._sign
        values = np.array([sign * function(y, row.astype(int), **kwargs) for row in predicted])
    best = int(np.argmax(values))
    default = int(np.flatnonzero(thresholds == 0.5)[0])
    return {
        "objective": objective,
        "threshold": float(thresholds[best]),
        "value": float(values[best]),
        "value_at_0.5": float(values[default]),
        "chosen_on": "out-of-fold predictions of the training rows",
        "curve": {"threshold": [float(t) for t in np.round(thresholds, 6)],
                  "value": [float(v) for v in np.round(values, 6)]},
        **({"costs": costs.tolist()} if objective == "cost" else {}),
    }


def with_threshold(fitted: Pipeline, threshold: float, X: Any, y: np.ndarray) -> Pipeline:
    """The fitted Pipeline predicting class 1 when P(class 1) >= ``threshold``; nothing refits."""
    features, model = fitted[:-1], fitted.steps[-1][1]
    fixed = FixedThresholdClassifier(FrozenEstimator(model), threshold=threshold,
                                     response_method="predict_proba")
    fixed.fit(features.transform(X), y)
    return Pipeline([*fitted.steps[:-1], ("model", fixed)])


def fit_final_model(pipeline: Pipeline, X: Any, y: np.ndarray, *, settings: EvaluationSettings,
                    classes: list[Any], cv: Any, groups: np.ndarray | None, seed: int
                    ) -> tuple[Pipeline, dict[str, Any]]:
    """The Pipeline fitted on the training rows, calibrated and thresholded as declared, and
    the record of what was done (empty when nothing was)."""
    if settings.calibration == "none" and settings.threshold is None:
        return fit_pipeline(pipeline, X, y), {}
    folds = list(cv.split(X, y, groups)) if cv is not None else []
    held_out = np.sort(np.concatenate([test for _, test in folds])) if folds else np.array([])
    if not np.array_equal(held_out, np.arange(len(y))):
        raise ConfigError("metrics.threshold / metrics.calibration: they learn from out-of-fold "
                          "predictions, which need CV folds that hold out each training row "
                          "once; this split's folds do not (time series or repeated). Use "
                          "split=default or split=group.")
    final = pipeline
    if settings.calibration != "none":  # the run's own folds, so groups stay whole
        final = with_calibration(pipeline, settings.calibration, folds)
        # Inside each fold of the threshold's out-of-fold pass the rows are fewer, so the
        # calibration there splits them afresh (stratified, seeded).
        pipeline = with_calibration(pipeline, settings.calibration,
                                    StratifiedKFold(len(folds), shuffle=True, random_state=seed))
    fitted = fit_pipeline(final, X, y)
    record: dict[str, Any] = {}
    if settings.calibration != "none":
        record["calibration"] = {"method": settings.calibration,
                                 "fitted_on": f"out-of-fold predictions of {len(folds)} CV folds"}
    if settings.threshold is None:
        return fitted, record
    costs = check_costs(settings.costs, classes) if settings.threshold == "cost" else None
    out_of_fold = cross_val_predict(pipeline, X, y, cv=folds, method="predict_proba")[:, 1]
    record["threshold"] = tune_threshold(y, out_of_fold, settings.threshold, costs)
    return with_threshold(fitted, record["threshold"]["threshold"], X, y), record
