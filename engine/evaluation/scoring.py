"""Cross-validated and held-out scores of the one Pipeline, with scikit-learn's scorers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import check_scoring
from sklearn.model_selection import BaseCrossValidator, cross_validate
from sklearn.pipeline import Pipeline

from engine.evaluation.metrics import MetricSet
from engine.evaluation.responses import Responses


@dataclass(frozen=True)
class CVScores:
    """Per-fold scores, one column per scorer."""

    folds: pd.DataFrame

    def summary(self) -> dict[str, dict[str, Any]]:
        """Mean, standard deviation and fold values for each scorer."""
        return {
            str(name): {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=0)),
                "folds": [float(v) for v in values],
            }
            for name, values in self.folds.items()
        }


def cross_validate_pipeline(
    pipeline: Pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    cv: BaseCrossValidator | Sequence[tuple[np.ndarray, np.ndarray]],
    groups: np.ndarray | None,
    metrics: MetricSet,
    n_jobs: int,
) -> CVScores:
    """Fit a fresh copy of the whole Pipeline inside every fold and score its validation rows;
    ``cv`` is a splitter or the folds it made."""
    result = cross_validate(
        pipeline,
        X,
        y,
        groups=groups,
        cv=cv,
        scoring=list(metrics.scorers),
        n_jobs=n_jobs,
        error_score="raise",
    )
    folds = pd.DataFrame({name: result[f"test_{name}"] for name in metrics.scorers})
    folds.index.name = "fold"
    return CVScores(folds=folds)


def fit_pipeline(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray) -> Pipeline:
    """A fitted copy of the Pipeline (the original stays unfitted)."""
    return clone(pipeline).fit(X, y)


def score_holdout(fitted: Any, X: Any, y: np.ndarray, metrics: MetricSet) -> dict[str, float]:
    """Every scorer on the held-out rows; each prediction method runs once, shared by scorers."""
    scorer = check_scoring(fitted, scoring=list(metrics.scorers))
    return {name: float(value) for name, value in scorer(fitted, X, y).items()}


def score_responses(responses: Responses, y: np.ndarray, metrics: MetricSet) -> dict[str, float]:
    """Every scorer on the rows ``responses`` were computed for, exactly as scikit-learn's
    scorers score the model, but each prediction method runs at most once, shared with whatever
    else reads ``responses`` (the intervals, the explanations, predictions.csv)."""
    answered = _Answered(responses)
    return score_holdout(answered, responses.X, y, metrics)


class _Answered:
    """The model as scikit-learn's scorers see it (its tags, classes and methods), answering
    its prediction methods from ``responses`` instead of predicting again."""

    _METHODS = ("predict", "predict_proba", "decision_function", "predict_log_proba")

    def __init__(self, responses: Responses) -> None:
        self._responses = responses

    def __getattr__(self, name: str) -> Any:
        model = self._responses.model
        if name in self._METHODS and hasattr(model, name):
            def answer(X: Any) -> np.ndarray:
                return self._responses.get(name)[1]

            answer.__name__ = name  # scikit-learn reads the method's name
            return answer
        return getattr(model, name)  # tags, classes_, fit: the model's own
