"""XGBoost behind the scikit-learn contract (model=xgboost): depth-wise histogram trees, native
categorical splits, early stopping on rows carved from the training rows."""

from __future__ import annotations

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


class XGBoostTrees(BoostedTrees):
    """The parameters and training shared by XGBoost's classifier and regressor."""

    library = "xgboost"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **SHARED_CONSTRAINTS,
        "max_depth": [Interval(Integral, 0, None, closed="left")],
        "max_leaves": [Interval(Integral, 0, None, closed="left")],
        "min_child_weight": [Interval(Real, 0.0, None, closed="left")],
        "subsample": [Interval(Real, 0.0, 1.0, closed="right")],
        "colsample_bytree": [Interval(Real, 0.0, 1.0, closed="right")],
        "reg_alpha": [Interval(Real, 0.0, None, closed="left")],
        "reg_lambda": [Interval(Real, 0.0, None, closed="left")],
        "gamma": [Interval(Real, 0.0, None, closed="left")],
    }

    def __init__(self, *, n_estimators: int = 200, learning_rate: float = 0.1,
                 max_depth: int = 6, max_leaves: int = 0, min_child_weight: float = 1.0,
                 subsample: float = 1.0, colsample_bytree: float = 1.0,
                 reg_alpha: float = 0.0, reg_lambda: float = 1.0, gamma: float = 0.0,
                 early_stopping_rounds: int | None = 20, validation_fraction: float = 0.1,
                 categorical_blocks: list[str] | tuple[str, ...] | None = ("categorical",),
                 n_jobs: int | None = None, random_state: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.max_leaves = max_leaves
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.gamma = gamma
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.categorical_blocks = categorical_blocks
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _objective(self) -> dict[str, Any]:
        raise NotImplementedError

    def _train(self, X: np.ndarray, y: np.ndarray, valid: tuple[np.ndarray, np.ndarray] | None,
               categorical: list[int], threads: int) -> Any:
        import xgboost

        params = {
            **self._objective(), "tree_method": "hist", "eta": self.learning_rate,
            "max_depth": self.max_depth, "max_leaves": self.max_leaves,
            "min_child_weight": self.min_child_weight, "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree, "alpha": self.reg_alpha,
            "lambda": self.reg_lambda, "gamma": self.gamma, "seed": self.random_state or 0,
            "nthread": threads, "verbosity": 0,
        }
        evals = [] if valid is None else [(self._data(valid[0], valid[1]), "validation")]
        booster = xgboost.train(params, self._data(X, y), num_boost_round=self.n_estimators,
                                evals=evals, verbose_eval=False,
                                early_stopping_rounds=self.early_stopping_rounds if evals else None)
        if evals:
            booster = booster[: booster.best_iteration + 1]
        self.n_iterations_ = booster.num_boosted_rounds()
        return booster

    def _data(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        """A DMatrix whose categorical columns are categories, a negative code missing."""
        import xgboost

        categorical = self.categorical_columns_
        X = self._negative_codes_missing(X)
        types = ["c" if index in categorical else "q" for index in range(X.shape[1])]
        return xgboost.DMatrix(X, y, feature_types=types, enable_categorical=bool(categorical),
                               nthread=self._threads(X))

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster_.predict(self._data(X)))

    def _dump_booster(self, booster: Any) -> bytes:
        return bytes(booster.save_raw("ubj"))

    def _load_booster(self, saved: Any) -> Any:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(bytearray(saved))
        return booster


class XGBoostClassifier(XGBoostTrees, BoostedClassifier):
    """XGBoost for binary and multiclass targets."""

    def _objective(self) -> dict[str, Any]:
        if len(self.classes_) > 2:
            return {"objective": "multi:softprob", "num_class": len(self.classes_)}
        return {"objective": "binary:logistic"}


class XGBoostRegressor(XGBoostTrees, BoostedRegressor):
    """XGBoost for numeric targets (squared error)."""

    def _objective(self) -> dict[str, Any]:
        return {"objective": "reg:squarederror"}
