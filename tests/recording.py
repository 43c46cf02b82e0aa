"""A transformer that records which rows it was fitted on, to prove folds never leak."""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class RecordingTransformer(TransformerMixin, BaseEstimator):
    """Passes data through unchanged; every ``fit`` appends the row labels it saw."""

    fitted_rows: ClassVar[list[set[Any]]] = []

    def fit(self, X: pd.DataFrame, y: Any = None) -> RecordingTransformer:
        RecordingTransformer.fitted_rows.append(set(X.index))
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return X
