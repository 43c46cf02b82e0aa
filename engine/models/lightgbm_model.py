"""LightGBM behind the scikit-learn contract (model=lightgbm): leaf-wise boosted trees, native
categorical splits, early stopping on rows carved from the training rows."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval

from engine.models.boosting import (
    SHARED_CONSTRAINTS,
    BoostedClassifier,
    BoostedRegressor,
    BoostedTrees,
)


class LightGBMTrees(BoostedTrees):
    """The parameters and training shared by LightGBM's classifier and regressor."""

    library = "lightgbm"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SHARED_CONSTRAINTS,
        "num_leaves": [Interval(Integral, 2, None, closed="left")],
        "max_depth": [Interval(Integral, -1, None, closed="left")],
        "min_child_samples": [Interval(Integral, 1, None, closed="left")],
        "subsample": [Interval(Real, 0.0, 1.0, closed="right")],
        "subsample_freq": [Interval(Integral, 0, None, closed="left")],
        "colsample_bytree": [Interval(Real, 0.0, 1.0, closed="right")],
        "reg_alpha": [Interval(Real, 0.0, None, closed="left")],
        "reg_lambda": [Interval(Real, 0.0, None, closed="left")],
        "min_split_gain": [Interval(Real, 0.0, None, closed="left")],
    }

    def __init__(self, *, n_estimators: int = 200, learning_rate: float = 0.1,
                 num_leaves: int = 31, max_depth: int = -1, min_child_samples: int = 20,
                 subsample: float = 1.0, subsample_freq: int = 0,
                 colsample_bytree: float = 1.0, reg_alpha: float = 0.0,
                 reg_lambda: float = 0.0, min_split_gain: float = 0.0,
                 early_stopping_rounds: int | None = 20, validation_fraction: float = 0.1,
                 categorical_blocks: list[str] | tuple[str, ...] | None = ("categorical",),
                 n_jobs: int | None = None, random_state: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.min_split_gain = min_split_gain
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.categorical_blocks = categorical_blocks
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _objective(self) -> dict[str, Any]:
        raise NotImplementedError

    def _train(self, X: np.ndarray, y: np.ndarray, valid: tuple[np.ndarray, np.ndarray] | None,
               categorical: list[int], threads: int) -> Any:
        import lightgbm

        params = {
            **self._objective(), "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves, "max_depth": self.max_depth,
            "min_child_samples": self.min_child_samples, "subsample": self.subsample,
            "subsample_freq": self.subsample_freq, "colsample_bytree": self.colsample_bytree,
            "reg_alpha": self.reg_alpha, "reg_lambda": self.reg_lambda,
            "min_split_gain": self.min_split_gain, "seed": self.random_state or 0,
            "num_threads": threads, "verbosity": -1,
        }
        train = lightgbm.Dataset(self._negative_codes_missing(X), y,
                                 categorical_feature=categorical or "auto",
                                 params={"verbosity": -1})
        valid_sets: list[Any] = []
        callbacks: list[Callable[..., Any]] = []
        if valid is not None:
            valid_sets = [lightgbm.Dataset(self._negative_codes_missing(valid[0]), valid[1],
                                           reference=train)]
            callbacks = [lightgbm.early_stopping(self.early_stopping_rounds or 0, verbose=False)]
        booster = lightgbm.train(params, train, num_boost_round=self.n_estimators,
                                 valid_sets=valid_sets, callbacks=callbacks)
        self.n_iterations_ = booster.best_iteration or booster.current_iteration()
        return self._load_booster(booster.model_to_string(num_iteration=self.n_iterations_))

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict(self._negative_codes_missing(X),
                                                num_threads=self._threads(X)))

    def _dump_booster(self, booster: Any) -> str:
        return str(booster.model_to_string())

    def _load_booster(self, saved: Any) -> Any:
        import lightgbm

        return lightgbm.Booster(model_str=saved)


class LightGBMClassifier(LightGBMTrees, BoostedClassifier):
    """LightGBM for binary and multiclass targets."""

    def _objective(self) -> dict[str, Any]:
        if len(self.classes_) > 2:
            return {"objective": "multiclass", "num_class": len(self.classes_)}
        return {"objective": "binary"}


class LightGBMRegressor(LightGBMTrees, BoostedRegressor):
    """LightGBM for numeric targets (squared error)."""

    def _objective(self) -> dict[str, Any]:
        return {"objective": "regression"}
