"""The ``sklearn`` and ``synthetic`` sources: data that scikit-learn loads or generates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.config.schema.dataset import SklearnDataset, SyntheticDataset
from engine.data.synthetic_text import make_text
from engine.errors import ConfigError, first_line

SYNTHETIC_PARAMETERS = {
    "classification": ("n_samples", "n_features", "n_informative", "n_classes", "weights"),
    "regression": ("n_samples", "n_features", "n_informative", "noise"),
    "text": ("n_samples", "n_classes", "weights", "noise"),
}
FLOAT32_CELLS = 10_000_000  # above this many feature cells, float32 halves the memory


def read_sklearn(dataset: SklearnDataset, *, seed: int) -> pd.DataFrame:
    """Load a dataset bundled with scikit-learn; its target column is ``target``."""
    from sklearn import datasets

    return getattr(datasets, f"load_{dataset.loader}")(as_frame=True).frame


def read_synthetic(dataset: SyntheticDataset, *, seed: int) -> pd.DataFrame:
    """Generate features ``x0..x{n-1}`` and a ``target`` with make_classification/regression,
    or (``kind: text``) support messages to classify by topic (:func:`make_text`).

    ``dataset.random_state: null`` uses the run's seed.
    """
    from sklearn.datasets import make_classification, make_regression

    kind = dataset.kind
    parameters = {
        name: getattr(dataset, name)
        for name in SYNTHETIC_PARAMETERS[kind]
        if getattr(dataset, name) is not None
    }
    random_state = dataset.random_state
    parameters["random_state"] = seed if random_state is None else random_state
    if kind == "text":
        return make_text(**parameters)
    make = make_classification if kind == "classification" else make_regression
    try:
        features, target = make(**parameters)
    except ValueError as error:
        raise ConfigError(
            f"dataset (synthetic {kind}): {first_line(error)}. Fix the dataset key of that name "
            f"(set: {', '.join(f'{name}={value}' for name, value in parameters.items())})."
        ) from error
    if features.size > FLOAT32_CELLS:
        features = features.astype(np.float32)
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(features.shape[1])], copy=False)
    frame["target"] = target
    return frame

