"""The one Pipeline every stage fits: features, then the model, so folds never leak."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from engine.config.spec import ExperimentSpec
from engine.errors import ConfigError, first_line
from engine.features.preprocessor import build_preprocessor
from engine.models.estimators import build_estimator

CHECK_ROWS = 500


def build_pipeline(spec: ExperimentSpec, task: str, columns: Sequence[str]) -> Pipeline:
    """``Pipeline([("features", ColumnTransformer), ("model", estimator)])`` for ``task``.

    A model that declares ``takes_feature_frame`` (the PyTorch ones) gets the features as a
    DataFrame, so integer code columns stay recognisable and its errors can name columns.
    """
    allowed = spec.allowed_targets
    features = build_preprocessor(spec.features, columns=columns, allowed=allowed)
    model = build_estimator(spec.model, task, allowed)
    if getattr(model, "takes_feature_frame", False):
        features.set_output(transform="pandas")
    return Pipeline([("features", features), ("model", model)])


def check_features_suit_model(pipeline: Pipeline, X_train: pd.DataFrame) -> None:
    """Refuse features the model cannot take (text, or missing values it does not allow).

    The features are fitted on the first training rows only, so this costs milliseconds and
    turns a deep ``could not convert string to float`` into a message naming the columns.
    """
    features = clone(pipeline.named_steps["features"])
    try:
        output = features.fit_transform(X_train.head(CHECK_ROWS))
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"features: the feature blocks fail on the training rows: "
            f"{first_line(error)}. Check features.transformers (or try features=auto)."
        ) from None
    if sparse.issparse(output):
        return
    frame = pd.DataFrame(np.asarray(output, dtype=object), columns=_names(features, output))
    text = [name for name in frame if frame[name].map(lambda v: isinstance(v, str)).any()]
    if text:
        raise ConfigError(
            f"features: column(s) {', '.join(text)} reach the model as text. Encode them: "
            "features=auto (one-hot) or features=ordinal, or add a block with an encoder."
        )
    model = pipeline.named_steps["model"]
    if not get_tags(model).input_tags.allow_nan:
        missing = [name for name in frame if pd.isna(frame[name]).any()]
        if missing:
            raise ConfigError(
                f"features: column(s) {', '.join(missing)} reach {type(model).__name__} with "
                "missing values, which it does not accept. Fill them with an imputer "
                "(features=auto does), or use a model that allows them (model=hist_gbm)."
            )


def _names(features: object, output: np.ndarray) -> list[str]:
    try:
        return [str(name) for name in features.get_feature_names_out()]
    except (AttributeError, ValueError):
        return [f"feature {index}" for index in range(output.shape[1])]
