"""The final fit: the Pipeline fitted on all training rows, calibrated and thresholded as declared.

Calibration and the threshold both learn from out-of-fold predictions of the run's own CV folds
(never the test rows); see :mod:`engine.evaluation.decision_threshold` for the threshold itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from engine.config.schema.metrics import MetricsConfig
from engine.evaluation.decision_threshold import check_costs, tune_threshold, with_threshold
from engine.evaluation.scoring import fit_pipeline


def fit_final_model(pipeline: Pipeline, X: Any, y: np.ndarray, *, settings: MetricsConfig,
                    classes: list[Any], folds: list[tuple[np.ndarray, np.ndarray]], seed: int
                    ) -> tuple[Pipeline, dict[str, Any]]:
    """The Pipeline fitted on the training rows, calibrated and thresholded as declared, and
    the record of what was done (empty when nothing was).

    ``folds`` are the run's CV folds; the run plan has checked that they hold out each training
    row once when calibration or a threshold needs them."""
    if settings.calibration == "none" and settings.threshold is None:
        return fit_pipeline(pipeline, X, y), {}
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
    costs = check_costs(settings.costs or {}, classes) if settings.threshold == "cost" else None
    out_of_fold = cross_val_predict(pipeline, X, y, cv=folds, method="predict_proba")[:, 1]
    record["threshold"] = tune_threshold(y, out_of_fold, settings.threshold, costs)
    return with_threshold(fitted, record["threshold"]["threshold"], X, y), record


def with_calibration(pipeline: Pipeline, method: str, cv: Any) -> Pipeline:
    """The Pipeline with its model wrapped in ``CalibratedClassifierCV``: one model refitted on
    all rows, its probabilities mapped by a calibrator fitted on out-of-fold predictions of
    ``cv`` (a list of folds, or a splitter)."""
    calibrated = clone(pipeline)
    model = calibrated.steps[-1][1]
    calibrated.steps[-1] = ("model", CalibratedClassifierCV(model, method=method, ensemble=False,
                                                            cv=cv))
    return calibrated
