"""What the engine's LightGBM, XGBoost and CatBoost estimators share: the scikit-learn contract
around a library's own booster, early stopping on rows carved from the training rows, native
categorical columns, the engine's thread budget and a bundle that holds the model as bytes.

Each library's estimator (``engine.models.lightgbm_model``, ``xgboost_model``,
``catboost_model``) trains with the library's native API and keeps the booster in ``booster_``.
Pickled or saved by skops, the booster is the library's own model file (text or bytes), so a
bundle holds only the engine's class and plain values: nothing of the library is rebuilt from a
pickle.

Categorical columns: when the features reach the model as a DataFrame (the features config's
blocks can all give one), the columns of the blocks named in ``categorical_blocks`` (the
shipped configs' ``categorical`` block: features=ordinal's codes) are passed to the library as
categories, not as numbers; a negative code (features=ordinal's unknown or missing category)
is a missing value. From an array, every column is numeric.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from engine.threads import threads_per_process

MIN_VALIDATION_ROWS = 20
SHARED_CONSTRAINTS: dict[str, list[Any]] = {
    "n_estimators": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": [Interval(Real, 0.0, None, closed="neither")],
    "early_stopping_rounds": [Interval(Integral, 0, None, closed="left"), None],
    "validation_fraction": [Interval(Real, 0.0, 1.0, closed="left")],
    "categorical_blocks": [list, tuple, None],
    "n_jobs": [Interval(Integral, 1, None, closed="left"), None],
    "random_state": [Interval(Integral, 0, None, closed="left"), None],
}
"""The engine's parameters every family takes, checked when the config is validated."""


class BoostedTrees(BaseEstimator):
    """The shared fit: encode the target, find categorical columns, carve the early-stopping
    rows, then ``_train`` (the library's part) on a float64 matrix."""

    takes_feature_frame = True
    library: ClassVar[str] = ""
    """The module the family trains with; an extra names the one that installs it."""
    extra: ClassVar[str | None] = None
    booster_: Any
    n_estimators: int
    early_stopping_rounds: int | None
    validation_fraction: float
    categorical_blocks: list[str] | tuple[str, ...] | None
    n_jobs: int | None
    random_state: int | None

    def fit(self, X: Any, y: Any) -> BoostedTrees:
        categorical = self._categorical_columns(X)
        matrix = np.asarray(X, dtype=np.float64)
        target = self._encoded_target(np.asarray(y))
        train, valid = self._early_stopping_rows(target)
        self.n_features_in_ = matrix.shape[1]
        self.categorical_columns_ = categorical
        self.booster_ = self._train(matrix[train], target[train],
                                    (matrix[valid], target[valid]) if len(valid) else None,
                                    categorical, self._threads(matrix))
        return self

    def _train(self, X: np.ndarray, y: np.ndarray, valid: tuple[np.ndarray, np.ndarray] | None,
               categorical: list[int], threads: int) -> Any:
        raise NotImplementedError

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        """The booster's answer for ``X``: probabilities [N, classes] or predictions [N]."""
        raise NotImplementedError

    def _encoded_target(self, y: np.ndarray) -> np.ndarray:
        return y.astype(np.float64)

    def _categorical_columns(self, X: Any) -> list[int]:
        if not isinstance(X, pd.DataFrame):
            return []
        blocks = tuple(f"{block}__" for block in self.categorical_blocks or ())
        return [index for index, name in enumerate(X.columns) if str(name).startswith(blocks)]

    def _early_stopping_rows(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows to train on and those to stop on: ``validation_fraction`` of them, drawn
        with ``random_state`` (per class for a classifier); none when early stopping is off or
        would have fewer than MIN_VALIDATION_ROWS rows, or a class would miss from either."""
        rows = np.arange(len(y))
        fraction = self.validation_fraction
        if not (self.early_stopping_rounds and fraction) or len(y) * fraction < MIN_VALIDATION_ROWS:
            return rows, rows[:0]
        strata = y if isinstance(self, ClassifierMixin) else None
        if strata is not None and np.bincount(strata.astype(np.int64)).min() < 2:
            return rows, rows[:0]
        train, valid = train_test_split(rows, test_size=fraction, stratify=strata,
                                        random_state=self.random_state or 0)
        return np.sort(train), np.sort(valid)

    def _threads(self, X: np.ndarray) -> int:
        """``n_jobs`` when set, else the engine's budget for this process (one for a small
        fit), so tuning workers and the library's OpenMP threads never oversubscribe the cores."""
        return int(self.n_jobs) if self.n_jobs else threads_per_process(work=X.size)

    def _negative_codes_missing(self, X: np.ndarray) -> np.ndarray:
        """``X`` with a negative code of a categorical column (features=ordinal's unknown or
        missing category) as NaN, the libraries' missing category."""
        columns = self.categorical_columns_
        if not columns:
            return X
        X = X.copy()
        codes = X[:, columns]
        X[:, columns] = np.where(codes < 0, np.nan, codes)
        return X

    def _matrix(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return np.asarray(X, dtype=np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        if "booster_" in state:
            state["booster_"] = self._dump_booster(state["booster_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if "booster_" in state:
            state["booster_"] = self._load_booster(state["booster_"])
        super().__setstate__(state)

    def _dump_booster(self, booster: Any) -> str | bytes:
        raise NotImplementedError

    def _load_booster(self, saved: Any) -> Any:
        raise NotImplementedError


class BoostedClassifier(ClassifierMixin, BoostedTrees):
    """Labels encoded as 0..k-1 (``classes_`` keeps the originals); probabilities [N, k]."""

    def _encoded_target(self, y: np.ndarray) -> np.ndarray:
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        return encoder.transform(y).astype(np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        # float64 rows that sum to one: XGBoost answers float32, whose rows scikit-learn's log
        # loss warned "do not sum to one" about on every multiclass trial.
        probabilities = np.asarray(self._raw_predict(self._matrix(X)), dtype=np.float64)
        if probabilities.ndim == 1:
            return np.column_stack([1.0 - probabilities, probabilities])
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_)[np.argmax(self.predict_proba(X), axis=1)]


class BoostedRegressor(RegressorMixin, BoostedTrees):
    """Predictions [N]."""

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self._raw_predict(self._matrix(X)), dtype=np.float64).ravel()
