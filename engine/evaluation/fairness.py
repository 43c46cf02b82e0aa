"""Group fairness of the test predictions with fairlearn, checked against declared limits.

For each sensitive column (and their intersection when there are several), fairlearn's
``MetricFrame`` gives the metrics by group, and for binary tasks the demographic parity and
equalized odds differences and ratios. A difference above its limit, or a ratio below it,
warns or fails the run as ``metrics.fairness.limits`` says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from fairlearn import metrics as fair
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    mean_absolute_error,
    root_mean_squared_error,
)

from engine.config.schema.metrics import FairnessConfig, FairnessLimit, FairnessMeasure
from engine.evaluation.slices import slice_labels

GROUP_METRICS: Mapping[str, Mapping[str, Callable[..., float]]] = {
    "binary": {"count": fair.count, "accuracy": accuracy_score,
               "selection_rate": fair.selection_rate,
               "true_positive_rate": fair.true_positive_rate,
               "false_positive_rate": fair.false_positive_rate},
    "multiclass": {"count": fair.count, "accuracy": accuracy_score,
                   "balanced_accuracy": balanced_accuracy_score},
    "regression": {"count": fair.count, "mean_absolute_error": mean_absolute_error,
                   "root_mean_squared_error": root_mean_squared_error,
                   "mean_prediction": fair.mean_prediction},
}
MEASURES: Mapping[FairnessMeasure, Callable[..., float]] = {
    "demographic_parity_difference": fair.demographic_parity_difference,
    "demographic_parity_ratio": fair.demographic_parity_ratio,
    "equalized_odds_difference": fair.equalized_odds_difference,
    "equalized_odds_ratio": fair.equalized_odds_ratio,
}


def fairness_record(frame: pd.DataFrame, y: np.ndarray, predicted: np.ndarray, task: str,
                    settings: FairnessConfig, *, bins: int) -> dict[str, Any]:
    """Metrics by group and the parity measures for each sensitive grouping, with verdicts.

    ``y`` and ``predicted`` are encoded labels (class 1 is the positive one) or numbers.
    """
    groups: dict[str, pd.Series | pd.DataFrame] = {
        column: slice_labels(frame[column].reset_index(drop=True), bins)
        for column in settings.sensitive
    }
    if len(groups) > 1:
        groups[" & ".join(groups)] = pd.DataFrame(groups)
    record: dict[str, Any] = {"sensitive": list(settings.sensitive), "groupings": []}
    for name, sensitive in groups.items():
        by_group = fair.MetricFrame(metrics=dict(GROUP_METRICS[task]), y_true=y,
                                    y_pred=predicted, sensitive_features=sensitive)
        grouping: dict[str, Any] = {
            "name": name,
            "by_group": [{"group": " & ".join(map(str, key)) if isinstance(key, tuple)
                          else str(key), **{m: float(v) for m, v in values.items()}}
                         for key, values in by_group.by_group.iterrows()
                         if values["count"] > 0],  # crossings no test row falls in
            "measures": {},
        }
        if task == "binary":
            for measure, function in MEASURES.items():
                value = float(function(y, predicted, sensitive_features=sensitive))
                grouping["measures"][measure] = {
                    "value": value, **_verdict(measure, value, settings.limits.get(measure))}
        grouping["by_group"].sort(key=lambda r: -r["count"])
        record["groupings"].append(grouping)
    if task != "binary" and any(settings.limits.values()):
        record["note"] = ("demographic parity and equalized odds need binary predictions; "
                          f"for a {task} task only the metrics by group are reported")
    return record


def _verdict(measure: str, value: float, limit: FairnessLimit | None) -> dict[str, Any]:
    """``ok``, ``warn`` or ``fail``: differences may not exceed a limit, ratios not fall below."""
    limits = limit.model_dump() if limit else {}
    worse = (lambda limit: value < limit) if measure.endswith("ratio") else (
        lambda limit: value > limit)
    verdict = "ok"
    for level in ("warn", "fail"):
        if limits.get(level) is not None and worse(limits[level]):
            verdict = level
    return {"verdict": verdict, "limits": dict(limits)}


def failed_measures(record: Mapping[str, Any], level: str) -> list[str]:
    """``grouping: measure = value (limit)`` for every measure at ``level``."""
    return [f"{grouping['name']}: {measure} = {result['value']:.3f} "
            f"({'below' if measure.endswith('ratio') else 'above'} {result['limits'][level]})"
            for grouping in record.get("groupings", [])
            for measure, result in grouping["measures"].items() if result["verdict"] == level]
