"""How well each feature alone predicts the target: a near-perfect score suggests leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

N_FOLDS = 3
TREE_DEPTH = 4


def single_feature_scores(
    X: pd.DataFrame, y: pd.Series, *, classification: bool, sample_rows: int, seed: int
) -> dict[str, float]:
    """Out-of-fold score of a depth-4 tree fitted on each column of ``X`` alone.

    Balanced accuracy for classification, R2 for regression; at most ``sample_rows`` rows,
    drawn with ``seed``.
    """
    if len(X) > sample_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), sample_rows, replace=False))
        X, y = X.iloc[rows], y.iloc[rows]
    if len(X) < 2 * N_FOLDS:
        return {}
    target = pd.factorize(y)[0] if classification else y.to_numpy(dtype=float)
    folds = list(_folds(target, classification, seed).split(np.zeros(len(target)), target))
    tree_class = DecisionTreeClassifier if classification else DecisionTreeRegressor
    tree = tree_class(max_depth=TREE_DEPTH, random_state=seed)
    score = balanced_accuracy_score if classification else r2_score
    scores = {}
    for column in X.columns:
        feature = _as_numbers(X[column]).reshape(-1, 1)
        predicted = np.empty_like(target)
        for train, test in folds:
            predicted[test] = tree.fit(feature[train], target[train]).predict(feature[test])
        scores[column] = float(score(target, predicted))
    return scores


def _folds(target: np.ndarray, classification: bool, seed: int) -> KFold | StratifiedKFold:
    """Stratified folds when every class can appear in each fold, plain shuffled folds otherwise."""
    if classification and np.bincount(target).min() >= N_FOLDS:
        return StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed)
    return KFold(N_FOLDS, shuffle=True, random_state=seed)


def _as_numbers(column: pd.Series) -> np.ndarray:
    """Numbers as floats (NaN kept, trees handle it); anything else as sorted ordinal codes.

    Missing text gets code -1, its own category.
    """
    if is_numeric_dtype(column) or is_bool_dtype(column):
        return column.to_numpy(dtype=float, na_value=np.nan)
    try:
        codes = pd.factorize(column, sort=True)[0]
    except TypeError:  # mixed types that cannot be ordered
        codes = pd.factorize(column)[0]
    return codes.astype(float)
