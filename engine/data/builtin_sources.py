"""The ``sklearn`` and ``synthetic`` sources: data that scikit-learn loads or generates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.data.validation import check_choice, require
from engine.errors import ConfigError, first_line

SKLEARN_LOADERS = ("iris", "wine", "breast_cancer", "digits", "diabetes")
SYNTHETIC_KINDS = ("classification", "regression")
SYNTHETIC_PARAMETERS = {
    "classification": ("n_samples", "n_features", "n_informative", "n_classes", "weights"),
    "regression": ("n_samples", "n_features", "n_informative", "noise"),
}
FLOAT32_CELLS = 10_000_000  # above this many feature cells, float32 halves the memory


def read_sklearn(dataset: Mapping[str, Any], *, seed: int) -> pd.DataFrame:
    """Load a dataset bundled with scikit-learn; its target column is ``target``."""
    from sklearn import datasets

    loader = require(dataset, "loader", group="dataset", needed_for="for source 'sklearn'")
    check_choice(loader, SKLEARN_LOADERS, key="dataset.loader", what="loader")
    return getattr(datasets, f"load_{loader}")(as_frame=True).frame


def read_synthetic(dataset: Mapping[str, Any], *, seed: int) -> pd.DataFrame:
    """Generate features ``x0..x{n-1}`` and a ``target`` with make_classification/regression.

    ``dataset.random_state: null`` uses the run's seed.
    """
    from sklearn.datasets import make_classification, make_regression

    kind = check_choice(dataset.get("kind"), SYNTHETIC_KINDS, key="dataset.kind", what="kind")
    parameters = {
        name: _whole_number(dataset[name])
        for name in SYNTHETIC_PARAMETERS[kind]
        if dataset.get(name) is not None
    }
    random_state = dataset.get("random_state")
    parameters["random_state"] = seed if random_state is None else random_state
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


def _whole_number(value: Any) -> Any:
    """Read 1e6 (a float after Hydra parses it) as the integer 1000000."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
