"""The one Pipeline every stage fits: features, then the model, so folds never leak."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.pipeline import Pipeline

from engine.config.spec import ExperimentSpec
from engine.features.preprocessor import build_preprocessor
from engine.models.estimators import build_estimator


def build_pipeline(spec: ExperimentSpec, task: str, columns: Sequence[str]) -> Pipeline:
    """``Pipeline([("features", ColumnTransformer), ("model", estimator)])`` for ``task``."""
    allowed = spec.allowed_targets
    return Pipeline(
        [
            ("features", build_preprocessor(spec.features, columns=columns, allowed=allowed)),
            ("model", build_estimator(spec.model, task, allowed)),
        ]
    )
