"""For binary tasks, a decision threshold tuned on CV folds.

The threshold is chosen on the out-of-fold probabilities of the training rows (never the test
rows), to maximise a scorer or to minimise a cost matrix, and baked into the model bundle with
scikit-learn's ``FixedThresholdClassifier``, so ``predict``, the report and the served model all
use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import get_scorer
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline

from engine.config.schema.base import Label
from engine.errors import ConfigError, did_you_mean

CANDIDATES = 201
"""Thresholds tried: this many quantiles of the out-of-fold probabilities, plus 0.5."""


def check_threshold_task(objective: str, task: str, has_probabilities: bool) -> None:
    """A tuned threshold needs a binary task and probabilities (the schema has checked that
    ``objective`` scores hard predictions)."""
    if task != "binary":
        raise ConfigError(f"metrics.threshold: a decision threshold applies to binary targets "
                          f"only and this target is {task}. Remove metrics.threshold.")
    if not has_probabilities:
        raise ConfigError("metrics.threshold: the model gives no class probabilities "
                          "(predict_proba) to threshold. Use another model or drop the option.")


def check_costs(costs: Mapping[Label, Mapping[Label, float]], classes: list[Any]) -> np.ndarray:
    """``costs`` as a 2x2 matrix ``[actual, predicted]`` over the encoded classes."""
    labels = [str(c) for c in classes]
    matrix = np.zeros((len(labels), len(labels)))
    for actual, row in ((str(a), r) for a, r in costs.items()):
        for predicted, cost in ((str(p), c) for p, c in row.items()):
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

    ``y`` is encoded 0/1; ``positive`` the out-of-fold probabilities of class 1; ``costs`` the
    ``check_costs`` matrix for the ``cost`` objective, else None.
    """
    thresholds = np.unique(np.r_[np.quantile(positive, np.linspace(0, 1, CANDIDATES)), 0.5])
    predicted = positive[None, :] >= thresholds[:, None]
    if objective == "cost":
        assert costs is not None, "the cost objective needs the cost matrix"
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
        **({"costs": costs.tolist()} if costs is not None else {}),
    }


def with_threshold(fitted: Pipeline, threshold: float, X: Any, y: np.ndarray) -> Pipeline:
    """The fitted Pipeline predicting class 1 when P(class 1) >= ``threshold``; nothing refits."""
    features, model = fitted[:-1], fitted.steps[-1][1]
    fixed = FixedThresholdClassifier(FrozenEstimator(model), threshold=threshold,
                                     response_method="predict_proba")
    fixed.fit(features.transform(X), y)
    return Pipeline([*fitted.steps[:-1], ("model", fixed)])
