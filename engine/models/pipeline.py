"""The one Pipeline every stage fits: features, then the model, so folds never leak."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import clone, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from engine.config.spec import ExperimentSpec
from engine.data.splits import seeded_sample
from engine.errors import ConfigError, first_line
from engine.features.preprocessor import build_preprocessor
from engine.models.estimators import (
    build_estimator,
    is_torch_estimator,
    model_classes,
    task_family,
)

CHECK_ROWS = 500


def build_pipeline(spec: ExperimentSpec, task: str, columns: Sequence[str]) -> Pipeline:
    """``Pipeline([("features", ColumnTransformer), ("model", estimator)])`` for ``task``.

    A model that declares ``takes_feature_frame`` (the PyTorch and boosted ones), or a family a
    search may swap in that does, gets the features as a DataFrame, so integer code columns stay
    recognisable and its errors can name columns; an array where a step cannot give a DataFrame
    (TfidfVectorizer). A boosted model finds its categorical columns by their block
    (``categorical_blocks``), so its columns are named ``<block>__<column>`` (but where a
    PyTorch family, which reads them by column name, may be swapped in). When the model, or a
    family a search may swap in, takes no sparse input, the features are dense (a
    TfidfVectorizer's matrix included).
    """
    allowed = spec.allowed_targets
    features = build_preprocessor(spec.features, columns=columns, allowed=allowed)
    model = build_estimator(spec.model, task, allowed)
    families = [build_estimator(candidate, task, allowed) for candidate in
                spec.candidates.values()
                if task_family(task) in model_classes(candidate, allowed)]
    if not all(get_tags(estimator).input_tags.sparse for estimator in (model, *families)):
        features.set_params(sparse_threshold=0.0)
    estimators = (model, *families)
    if any(getattr(one, "takes_feature_frame", False) for one in estimators) and \
            _gives_frames(features):
        features.set_output(transform="pandas")
        if (any(getattr(one, "categorical_blocks", None) for one in estimators)
                and not any(is_torch_estimator(type(one)) for one in estimators)):
            features.set_params(verbose_feature_names_out=True)
    return Pipeline([("features", features), ("model", model)])


def _gives_frames(features: ColumnTransformer) -> bool:
    """Whether every step of every block can be set to give a DataFrame."""
    steps = [step for _, block, _ in features.transformers if isinstance(block, Pipeline)
             for _, step in block.steps]
    return all(hasattr(step, "set_output") for step in steps)


def check_features_suit_model(pipeline: Pipeline, X_train: pd.DataFrame, y_train: np.ndarray
                              ) -> None:
    """Refuse features the model cannot take (text, or missing values it does not allow).

    The features are fitted, with the target for supervised steps (SelectKBest,
    TargetEncoder), on a sample of the training rows (every class kept), so this costs
    milliseconds and turns a deep ``could not convert string to float`` into a message naming
    the columns.
    """
    features = clone(pipeline.named_steps["features"])
    strata = y_train if is_classifier(pipeline.named_steps["model"]) else None
    rows = seeded_sample(len(X_train), CHECK_ROWS, seed=0, strata=strata)
    try:
        output = features.fit_transform(X_train.iloc[rows], y_train[rows])
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"features: the feature blocks fail on the training rows: "
            f"{first_line(error)}. Check features.transformers (or try features=auto)."
        ) from None
    if sparse.issparse(output):
        return
    frame = pd.DataFrame(np.asarray(output, dtype=object), columns=_names(features, output))
    text = [str(name) for name in frame if frame[name].map(lambda v: isinstance(v, str)).any()]
    if text:
        raise ConfigError(
            f"features: column(s) {', '.join(text)} reach the model as text. Encode them: "
            "features=auto (one-hot) or features=ordinal, or add a block with an encoder; "
            "free text takes a block `column: <name>` with a TfidfVectorizer (features=text)."
        )
    model = pipeline.named_steps["model"]
    if not get_tags(model).input_tags.allow_nan:
        missing = [str(name) for name in frame if pd.isna(frame[name]).any()]
        if missing:
            raise ConfigError(
                f"features: column(s) {', '.join(missing)} reach {type(model).__name__} with "
                "missing values, which it does not accept. Fill them with an imputer "
                "(features=auto does), or use a model that allows them (model=hist_gbm)."
            )


def _names(features: ColumnTransformer, output: np.ndarray) -> list[str]:
    try:
        return [str(name) for name in features.get_feature_names_out()]
    except (AttributeError, ValueError):
        return [f"feature {index}" for index in range(output.shape[1])]
