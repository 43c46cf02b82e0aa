"""CatBoost behind the scikit-learn contract (model=catboost, the catboost extra): symmetric
trees, categorical columns by ordered target statistics, early stopping on rows carved from
the training rows."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval

from engine.models.boosting import (
    SHARED_CONSTRAINTS,
    BoostedClassifier,
    BoostedRegressor,
    BoostedTrees,
)


class CatBoostTrees(BoostedTrees):
    """The parameters and training shared by CatBoost's classifier and regressor."""

    library = "catboost"
    extra = "catboost"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SHARED_CONSTRAINTS,
        "depth": [Interval(Integral, 1, 16, closed="both")],
        "l2_leaf_reg": [Interval(Real, 0.0, None, closed="left")],
        "random_strength": [Interval(Real, 0.0, None, closed="left")],
        "bagging_temperature": [Interval(Real, 0.0, None, closed="left")],
        "border_count": [Interval(Integral, 1, 65535, closed="both")],
    }

    def __init__(self, *, n_estimators: int = 200, learning_rate: float = 0.1, depth: int = 6,
                 l2_leaf_reg: float = 3.0, random_strength: float = 1.0,
                 bagging_temperature: float = 1.0, border_count: int = 254,
                 early_stopping_rounds: int | None = 20, validation_fraction: float = 0.1,
                 categorical_blocks: list[str] | tuple[str, ...] | None = ("categorical",),
                 n_jobs: int | None = None, random_state: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.depth = depth
        self.l2_leaf_reg = l2_leaf_reg
        self.random_strength = random_strength
        self.bagging_temperature = bagging_temperature
        self.border_count = border_count
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.categorical_blocks = categorical_blocks
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _loss(self) -> str:
        raise NotImplementedError

    def _train(self, X: np.ndarray, y: np.ndarray, valid: tuple[np.ndarray, np.ndarray] | None,
               categorical: list[int], threads: int) -> Any:
        import catboost  # type: ignore[import-untyped]

        model = catboost.CatBoost({
            "loss_function": self._loss(), "iterations": self.n_estimators,
            "learning_rate": self.learning_rate, "depth": self.depth,
            "l2_leaf_reg": self.l2_leaf_reg, "random_strength": self.random_strength,
            "bagging_temperature": self.bagging_temperature, "border_count": self.border_count,
            "random_seed": self.random_state or 0, "thread_count": threads,
            "allow_writing_files": False, "verbose": False,
        })
        model.fit(self._pool(X, y), eval_set=None if valid is None else self._pool(*valid),
                  early_stopping_rounds=self.early_stopping_rounds if valid else None)
        self.n_iterations_ = int(model.tree_count_)
        return model

    def _pool(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        """A Pool whose categorical columns are integer codes (CatBoost takes no float
        category); a missing code is -2, features=ordinal's code for a missing category."""
        import catboost

        frame = pd.DataFrame(X)
        for index in self.categorical_columns_:
            frame[index] = frame[index].fillna(-2).astype(np.int64)
        return catboost.Pool(frame, y, cat_features=self.categorical_columns_ or None,
                             thread_count=self._threads(X))

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        kind = "Probability" if hasattr(self, "classes_") else "RawFormulaVal"
        return np.asarray(self.booster_.predict(self._pool(X), prediction_type=kind,
                                                thread_count=self._threads(X)))

    def _dump_booster(self, booster: Any) -> bytes:
        return bytes(booster._serialize_model())

    def _load_booster(self, saved: Any) -> Any:
        import catboost

        return catboost.CatBoost().load_model(blob=bytes(saved))


class CatBoostClassifier(CatBoostTrees, BoostedClassifier):
    """CatBoost for binary and multiclass targets."""

    def _loss(self) -> str:
        return "MultiClass" if len(self.classes_) > 2 else "Logloss"


class CatBoostRegressor(CatBoostTrees, BoostedRegressor):
    """CatBoost for numeric targets (squared error)."""

    def _loss(self) -> str:
        return "RMSE"
