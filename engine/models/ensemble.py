"""A weighted ensemble of whole Pipelines, as greedy ensemble selection builds it.

Each member keeps its own preprocessing, so the ensemble takes the raw columns; a run's Pipeline
holding it is ``Pipeline([("input", identity), ("model", WeightedEnsembleClassifier(...))])``,
which keeps ``pipeline[:-1].transform`` and ``pipeline[-1]`` meaning what they mean for any run.

    WeightedEnsembleClassifier(members=[pipeline_a, pipeline_b], weights=[0.6, 0.4]).fit(X, y)

``fit`` refits a fresh copy of each member with a positive weight on the given rows; class
probabilities (regression: predictions) are the members' weighted mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import Tags, get_tags
from sklearn.utils.validation import check_is_fitted, column_or_1d


class _WeightedEnsemble(BaseEstimator):
    """The members and their weights; ``fit`` refits the members that have weight."""

    def __init__(self, members: Sequence[Any] = (), weights: Sequence[float] = ()) -> None:
        self.members = members
        self.weights = weights

    def fit(self, X: Any, y: Any) -> _WeightedEnsemble:
        weights = np.asarray(self.weights, dtype=float)
        if len(self.members) == 0 or len(weights) != len(self.members):
            raise ValueError(f"{type(self).__name__}: members and weights must be as many and "
                             f"not none; got {len(self.members)} members and {len(weights)} "
                             "weights.")
        if (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"{type(self).__name__}: weights must be non-negative with a "
                             f"positive sum; got {list(weights)}.")
        kept = np.flatnonzero(weights > 0)
        self.members_ = [clone(self.members[int(i)]).fit(X, y) for i in kept]
        self.weights_ = weights[kept] / weights[kept].sum()
        if hasattr(self.members_[0], "n_features_in_"):
            self.n_features_in_ = self.members_[0].n_features_in_
        return self

    def __sklearn_tags__(self) -> Tags:
        """Sparse input and missing values only where every member takes them."""
        tags = super().__sklearn_tags__()
        members = [get_tags(member).input_tags for member in self.members]
        tags.input_tags.sparse = all(member.sparse for member in members)
        tags.input_tags.allow_nan = all(member.allow_nan for member in members)
        return tags

    def _mean(self, method: str, X: Any) -> np.ndarray:
        check_is_fitted(self)
        answers = [np.asarray(getattr(member, method)(X), dtype=float)
                   for member in self.members_]
        return np.tensordot(self.weights_, np.stack(answers), axes=1)


class WeightedEnsembleClassifier(ClassifierMixin, _WeightedEnsemble):
    """The members' class probabilities, weighted and averaged; the likeliest class."""

    def fit(self, X: Any, y: Any) -> WeightedEnsembleClassifier:
        super().fit(X, y)
        self.classes_ = self.members_[0].classes_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._mean("predict_proba", X)

    def predict(self, X: Any) -> np.ndarray:
        probabilities = self.predict_proba(X)
        return np.asarray(self.classes_)[np.argmax(probabilities, axis=1)]


class WeightedEnsembleRegressor(RegressorMixin, _WeightedEnsemble):
    """The members' predictions, weighted and averaged."""

    def fit(self, X: Any, y: Any) -> WeightedEnsembleRegressor:
        super().fit(X, column_or_1d(y, warn=True))  # one target, as the run's
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self._mean("predict", X)


def ensemble_pipeline(members: Sequence[Pipeline], weights: Sequence[float], *,
                      classifier: bool) -> Pipeline:
    """The run's Pipeline around an ensemble: an identity input step (the members transform
    the raw columns themselves), then the ensemble as its ``model``."""
    ensemble = (WeightedEnsembleClassifier if classifier else WeightedEnsembleRegressor)(
        members=list(members), weights=[float(w) for w in weights])
    identity = FunctionTransformer(feature_names_out="one-to-one")
    return Pipeline([("input", identity), ("model", ensemble)])
