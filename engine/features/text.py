"""Steps for a free-text column, which a block with ``column: <name>`` gives its steps as 1-D."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class FillMissingText(TransformerMixin, BaseEstimator):
    """Missing values of a 1-D text column as ``fill_value``, every other value as a string.

    Text vectorisers refuse a missing document (``np.nan is an invalid document``); put this
    step before them: ``{_target_: engine.features.text.FillMissingText}``.
    """

    def __init__(self, fill_value: str = "") -> None:
        self.fill_value = fill_value

    def fit(self, X: Any, y: Any = None) -> FillMissingText:
        """Nothing to learn; checks that the input is one column."""
        _one_column(X)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The texts as a 1-D object array, missing ones replaced."""
        values = _one_column(X)
        return np.array([self.fill_value if pd.isna(v) else str(v) for v in values], dtype=object)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The column's name, unchanged (one text column in, one out)."""
        return np.asarray(input_features if input_features is not None else [], dtype=object)


def _one_column(X: Any) -> np.ndarray:
    values = np.asarray(X, dtype=object)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(
            f"FillMissingText takes one text column (a block with `column: <name>`); got an "
            f"array of shape {values.shape}."
        )
    return values
