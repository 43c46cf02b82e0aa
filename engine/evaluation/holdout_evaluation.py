"""Everything a run learns from its test rows beyond the scores: diagnostics, slices, fairness
and explanations, as one record for ``evaluation.json`` and the report."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.config.schema.metrics import MetricsConfig
from engine.data.splits import seeded_sample
from engine.evaluation.diagnostics import classification_diagnostics, regression_diagnostics
from engine.evaluation.explanations import partial_dependence, permutation_importance, top_columns
from engine.evaluation.fairness import fairness_record
from engine.evaluation.metrics import MetricSet
from engine.evaluation.responses import Responses
from engine.evaluation.slices import slice_metrics


def evaluate_holdout(pipeline: Any, X: pd.DataFrame, y: np.ndarray, responses: Responses, *,
                     task: str, classes: list[Any], metrics: MetricSet,
                     settings: MetricsConfig, seed: int) -> dict[str, Any]:
    """``pipeline`` takes the raw test rows ``X``; ``responses`` are its model's predictions."""
    _, predicted = responses.get("predict")
    record: dict[str, Any] = {}
    if settings.diagnostics.enabled:
        if task == "regression":
            record["diagnostics"] = regression_diagnostics(y, predicted, seed=seed)
        else:
            proba = (responses.get("predict_proba")[1]
                     if hasattr(responses.model, "predict_proba") else None)
            record["diagnostics"] = classification_diagnostics(
                y, predicted, proba, classes, bins=settings.diagnostics.calibration_bins)
    slices, explain = settings.slices, settings.explain
    if slices.columns:
        record["slices"] = slice_metrics(X, slices.columns, y, responses, metrics.scorers,
                                         metrics.primary, bins=slices.bins,
                                         bootstrap=settings.bootstrap, seed=seed)
    if settings.fairness.sensitive:
        record["fairness"] = fairness_record(X, y, predicted, task, settings.fairness,
                                             bins=slices.bins)
    if explain.importance_repeats:
        rows = seeded_sample(len(X), explain.max_rows, seed)
        X_sample, y_sample = X.iloc[rows], y[rows]
        importance = permutation_importance(pipeline, X_sample, y_sample, metrics.primary,
                                            repeats=explain.importance_repeats, seed=seed)
        record["importance"] = {"scorer": metrics.primary, "rows": len(rows),
                                "repeats": explain.importance_repeats, "columns": importance}
        record["partial_dependence"] = [
            partial_dependence(pipeline, X_sample, column, classes)
            for column in top_columns(importance, explain.dependence_features)]
    return record
