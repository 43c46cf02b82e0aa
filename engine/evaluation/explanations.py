"""Why the model predicts what it does: permutation importance and partial dependence on the
test rows, batched.

scikit-learn's ``permutation_importance`` and ``partial_dependence`` call the Pipeline once per
column and repeat (once per grid value), which costs the Pipeline's fixed overhead hundreds of
times. Here every permuted (or fixed) copy of the rows goes through the Pipeline in a few large
batches. The results equal scikit-learn's for the same seed (tested): the same permutations,
the same grid, the same scorer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats.mstats import mquantiles
from sklearn.metrics import get_scorer

from engine.evaluation.bootstrap import metric_value
from engine.evaluation.responses import Responses

BATCH_ROWS = 200_000
"""Rows sent through the Pipeline at once."""
GRID_RESOLUTION = 20
PERCENTILES = (0.05, 0.95)
MAX_CATEGORIES = 20
"""A category column's grid keeps its most frequent values (all of them for scikit-learn)."""


def permutation_importance(pipeline: Any, X: pd.DataFrame, y: np.ndarray, scorer: str, *,
                           repeats: int, seed: int) -> list[dict[str, Any]]:
    """Each column's drop in ``scorer`` when its values are shuffled, most important first.

    The permutations are scikit-learn's for ``random_state=seed``: every column is shuffled by
    the same sequence of cumulative shuffles.
    """
    baseline_responses = Responses(pipeline, X)
    method, _ = baseline_responses.get(get_scorer(scorer)._response_method)
    baseline = metric_value(scorer, y, baseline_responses)
    shuffles = _sklearn_shuffles(len(X), repeats, seed)
    tiled = X.iloc[np.tile(np.arange(len(X)), repeats)].reset_index(drop=True)
    drops: dict[str, np.ndarray] = {}
    per_batch = max(1, BATCH_ROWS // max(len(tiled), 1))
    columns = list(X.columns)
    for start in range(0, len(columns), per_batch):
        batch = columns[start:start + per_batch]
        frames = []
        for column in batch:
            copy = tiled.copy()
            copy[column] = X[column].iloc[shuffles.ravel()].reset_index(drop=True)
            frames.append(copy)
        response = np.asarray(getattr(pipeline, method)(pd.concat(frames, ignore_index=True)))
        blocks = response.reshape(len(batch), repeats, len(X), *response.shape[1:])
        for column, per_repeat in zip(batch, blocks, strict=True):
            drops[column] = np.array([
                baseline - metric_value(scorer, y, Responses(pipeline, None, {method: block}))
                for block in per_repeat])
    ranked = sorted(drops.items(), key=lambda item: -item[1].mean())
    return [{"column": str(column), "mean": float(values.mean()),
             "std": float(values.std()), "repeats": [float(v) for v in values]}
            for column, values in ranked]


def partial_dependence(pipeline: Any, X: pd.DataFrame, column: str, classes: list[Any]
                       ) -> dict[str, Any]:
    """The average prediction with ``column`` set to each grid value, as scikit-learn's
    ``partial_dependence(kind="average", method="brute")`` computes it.

    Classifiers: the mean probability of the positive class (binary) or of every class; the
    mean decision function for one without probabilities.
    """
    grid, categorical = _grid(X[column])
    repeated = X.iloc[np.tile(np.arange(len(X)), len(grid))].reset_index(drop=True)
    values = pd.Series(np.repeat(np.asarray(grid, dtype=object if categorical else float),
                                 len(X)))
    repeated[column] = values.astype(X[column].dtype) if categorical else values
    if classes and hasattr(pipeline, "predict_proba"):
        proba = np.asarray(pipeline.predict_proba(repeated)).reshape(len(grid), len(X), -1)
        average = proba.mean(axis=1)
        curves = ({str(classes[1]): average[:, 1]} if len(classes) == 2
                  else {str(label): average[:, k] for k, label in enumerate(classes)})
    elif classes:  # no probabilities (an SVC without them): the decision function, as sklearn
        decision = np.asarray(pipeline.decision_function(repeated)).reshape(len(grid), len(X), -1)
        average = decision.mean(axis=1)
        curves = ({"decision function": average[:, 0]} if average.shape[1] == 1
                  else {str(label): average[:, k] for k, label in enumerate(classes)})
    else:
        predicted = np.asarray(pipeline.predict(repeated), float).reshape(len(grid), len(X))
        curves = {"prediction": predicted.mean(axis=1)}
    return {"column": column, "categorical": categorical,
            "grid": [_plain(v) for v in grid],
            "average": {name: [float(v) for v in values] for name, values in curves.items()}}


def _grid(values: pd.Series) -> tuple[list[Any], bool]:
    """scikit-learn's grid: the sorted unique values when few, else evenly spaced between the
    5th and 95th percentiles (scipy's ``mquantiles``, as scikit-learn); categories: the values
    seen, at most the MAX_CATEGORIES most frequent."""
    present = values.dropna()
    if not pd.api.types.is_numeric_dtype(values):
        frequent = present.value_counts().index[:MAX_CATEGORIES]
        return sorted(frequent.tolist(), key=str), True
    unique = np.unique(present.to_numpy())
    if len(unique) < GRID_RESOLUTION:
        return unique.tolist(), False
    low, high = mquantiles(present.to_numpy(), prob=PERCENTILES)
    return np.linspace(low, high, num=GRID_RESOLUTION).tolist(), False


def _sklearn_shuffles(rows: int, repeats: int, seed: int) -> np.ndarray:
    """``repeats x rows`` indices: the shuffles scikit-learn's permutation_importance applies."""
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    state = np.random.RandomState(column_seed)
    shuffling, current, out = np.arange(rows), np.arange(rows), []
    for _ in range(repeats):
        state.shuffle(shuffling)
        current = current[shuffling]  # each repeat shuffles the already shuffled column
        out.append(current)
    return np.array(out).reshape(repeats, rows)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def top_columns(importances: Sequence[dict[str, Any]], count: int) -> list[str]:
    """The ``count`` most important columns that matter at all (a positive mean drop)."""
    return [item["column"] for item in importances if item["mean"] > 0][:count]
