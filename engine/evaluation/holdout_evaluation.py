"""Everything a run learns from its test rows beyond the scores: diagnostics, slices, fairness
and explanations, as one record for ``evaluation.json`` and the report."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.data.splits import seeded_sample
from engine.evaluation.bootstrap import BootstrapSettings
from engine.evaluation.diagnostics import classification_diagnostics, regression_diagnostics
from engine.evaluation.explanations import partial_dependence, permutation_importance, top_columns
from engine.evaluation.fairness import fairness_record
from engine.evaluation.metrics import MetricSet
from engine.evaluation.responses import Responses
from engine.evaluation.settings import EvaluationSettings
from engine.evaluation.slices import slice_metrics


def evaluate_holdout(pipeline: Any, X: pd.DataFrame, y: np.ndarray, responses: Responses, *,
                     task: str, classes: list[Any], metrics: MetricSet,
                     settings: EvaluationSettings, bootstrap: BootstrapSettings
                     ) -> dict[str, Any]:
    """``pipeline`` takes the raw test rows ``X``; ``responses`` are its model's predictions."""
    _, predicted = responses.get("predict")
    record: dict[str, Any] = {}
    if settings.diagnostics:
        if task == "regression":
            record["diagnostics"] = regression_diagnostics(y, predicted, seed=bootstrap.seed)
        else:
            proba = (responses.get("predict_proba")[1]
                     if hasattr(responses.model, "predict_proba") else None)
            record["diagnostics"] = classification_diagnostics(
                y, predicted, proba, classes, bins=settings.calibration_bins)
    if settings.slice_columns:
        record["slices"] = slice_metrics(X, settings.slice_columns, y, responses,
                                         metrics.scorers, metrics.primary,
                                         bins=settings.slice_bins, bootstrap=bootstrap)
    if settings.fairness.sensitive:
        record["fairness"] = fairness_record(X, y, predicted, task, settings.fairness,
                                             bins=settings.slice_bins)
    if settings.importance_repeats:
        rows = seeded_sample(len(X), settings.explain_rows, bootstrap.seed)
        X_sample, y_sample = X.iloc[rows], y[rows]
        importance = permutation_importance(pipeline, X_sample, y_sample, metrics.primary,
                                            repeats=settings.importance_repeats,
                                            seed=bootstrap.seed)
        record["importance"] = {"scorer": metrics.primary, "rows": len(rows),
                                "repeats": settings.importance_repeats, "columns": importance}
        record["partial_dependence"] = [
            partial_dependence(pipeline, X_sample, column, classes)
            for column in top_columns(importance, settings.dependence_features)]
    return record
