"""Diagnostics of the held-out predictions: what the curves and tables of a report are drawn from.

Classification: the confusion matrix, ROC and precision-recall curves (one-vs-rest per class for
multiclass), the Brier score and a reliability curve. Regression: residuals against
predictions, predicted against actual, and the error by decile of the target.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    auc,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    precision_recall_curve,
    roc_curve,
)

from engine.data.splits import seeded_sample

MAX_POINTS = 2000
"""Scatter plots keep at most this many rows (a seeded sample), so a report stays small."""


def classification_diagnostics(y: np.ndarray, predicted: np.ndarray, proba: np.ndarray | None,
                               classes: list[Any], *, bins: int) -> dict[str, Any]:
    """The confusion matrix, and with probabilities the curves and calibration, per class.

    ``y`` and ``predicted`` are encoded (0..k-1), ``proba`` has one column per class.
    """
    labels = [str(c) for c in classes]
    record: dict[str, Any] = {
        "kind": "classification",
        "classes": labels,
        "confusion_matrix": confusion_matrix(y, predicted, labels=range(len(classes))).tolist(),
    }
    if proba is None:
        return record
    scored = [len(classes) - 1] if len(classes) == 2 else range(len(classes))
    record["roc"], record["precision_recall"] = {}, {}
    for k in scored:
        positive = (y == k).astype(int)
        if positive.min() == positive.max():
            continue  # a class absent from the test rows has no curve
        fpr, tpr, _ = roc_curve(positive, proba[:, k])
        precision, recall, _ = precision_recall_curve(positive, proba[:, k])
        record["roc"][labels[k]] = {"fpr": _rounded(fpr), "tpr": _rounded(tpr),
                                    "auc": float(auc(fpr, tpr))}
        record["precision_recall"][labels[k]] = {
            "recall": _rounded(recall), "precision": _rounded(precision),
            "average_precision": float(average_precision_score(positive, proba[:, k])),
            "prevalence": float(positive.mean()),
        }
    record["calibration"] = _calibration(y, proba, labels, bins)
    return record


def _calibration(y: np.ndarray, proba: np.ndarray, labels: list[str], bins: int
                 ) -> dict[str, Any]:
    """Binary: the positive class's reliability curve. Multiclass: the top label's (confidence
    against accuracy). The Brier score is scikit-learn's (multiclass: summed over classes)."""
    if len(labels) == 2:
        outcome, confidence, of = (y == 1).astype(int), proba[:, 1], labels[1]
        brier = brier_score_loss(outcome, confidence)
    else:
        top = proba.argmax(axis=1)
        outcome, confidence, of = (top == y).astype(int), proba.max(axis=1), "top label"
        brier = brier_score_loss(y, proba, labels=range(len(labels)))
    observed, predicted = calibration_curve(outcome, confidence, n_bins=bins, strategy="uniform")
    edges = np.linspace(0, 1, bins + 1)  # binned as calibration_curve bins them
    counts = np.bincount(np.searchsorted(edges[1:-1], confidence), minlength=bins)
    return {"brier": float(brier), "of": of, "predicted": _rounded(predicted),
            "observed": _rounded(observed), "counts": counts[counts > 0].tolist()}


def regression_diagnostics(y: np.ndarray, predicted: np.ndarray, *, seed: int,
                           deciles: int = 10) -> dict[str, Any]:
    """Residuals, predicted against actual (sampled for plotting), error by target decile."""
    y, predicted = np.asarray(y, float), np.asarray(predicted, float)
    residual = y - predicted
    shown = seeded_sample(len(y), MAX_POINTS, seed)
    decile = pd.qcut(pd.Series(y), q=deciles, duplicates="drop")
    by_decile = pd.DataFrame({"decile": decile, "error": residual}).groupby(
        "decile", observed=True)["error"]
    # qcut's bins are Intervals; the stubs type a group key as any scalar
    groups = [(cast(pd.Interval, interval), errors) for interval, errors in by_decile]
    table = [
        {"target_range": [float(interval.left), float(interval.right)], "rows": len(errors),
         "mae": float(errors.abs().mean()), "rmse": float(np.sqrt((errors**2).mean())),
         "bias": float(errors.mean())}
        for interval, errors in sorted(groups, key=lambda group: group[0].left)
    ]
    return {
        "kind": "regression",
        "actual": _rounded(y[shown]),
        "predicted": _rounded(predicted[shown]),
        "residual": _rounded(residual[shown]),
        "shown_rows": len(shown),
        "rows": len(y),
        "residual_mean": float(residual.mean()),
        "residual_std": float(residual.std(ddof=1)) if len(y) > 1 else 0.0,
        "by_target_decile": table,
    }


def _rounded(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.round(np.asarray(values, float), 6)]
