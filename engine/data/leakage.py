"""How well each feature alone predicts the target: a near-perfect score suggests leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn.metrics import balanced_accuracy_score, r2_score

N_FOLDS = 3
N_BINS = 32


def single_feature_scores(
    X: pd.DataFrame, y: pd.Series, *, classification: bool, sample_rows: int, seed: int
) -> dict[str, float]:
    """Out-of-fold score of predicting the target from each column of ``X`` alone.

    Each column is cut into at most 32 bins (quantiles for numbers, the most frequent values
    otherwise, missing values in a bin of their own): about what a 32-leaf tree on that column
    sees, counted with ``np.bincount`` instead of fitted. A held-out row gets its bin's majority
    class in the other folds, scored by balanced accuracy, or its bin's mean target, scored by R2.
    At most ``sample_rows`` rows, drawn with ``seed``.
    """
    rng = np.random.default_rng(seed)
    if len(X) > sample_rows:
        rows = np.sort(rng.choice(len(X), sample_rows, replace=False))
        X, y = X.iloc[rows], y.iloc[rows]
    if len(X) < 2 * N_FOLDS:
        return {}
    fold = rng.permutation(len(X)) % N_FOLDS
    if classification:
        target = pd.factorize(y)[0]
        score = _classification_score
    else:
        target = y.to_numpy(dtype=float)
        score = _regression_score
    return {column: score(_bins(X[column]), target, fold) for column in X.columns}


def _classification_score(bins: np.ndarray, target: np.ndarray, fold: np.ndarray) -> float:
    n_bins, n_classes = bins.max() + 1, target.max() + 1
    cell = (fold * n_bins + bins) * n_classes + target
    counts = np.bincount(cell, minlength=N_FOLDS * n_bins * n_classes)
    counts = counts.reshape(N_FOLDS, n_bins, n_classes)
    other_folds = counts.sum(axis=0) - counts
    # Ties and empty bins fall back to the class most frequent in the other folds.
    prior = other_folds.sum(axis=1, keepdims=True) / (len(target) + 1.0)
    predicted = (other_folds + prior).argmax(axis=2)[fold, bins]
    return float(balanced_accuracy_score(target, predicted))


def _regression_score(bins: np.ndarray, target: np.ndarray, fold: np.ndarray) -> float:
    n_bins = bins.max() + 1
    cell = fold * n_bins + bins
    size = N_FOLDS * n_bins
    sums = np.bincount(cell, weights=target, minlength=size).reshape(N_FOLDS, n_bins)
    counts = np.bincount(cell, minlength=size).reshape(N_FOLDS, n_bins)
    other_sums, other_counts = sums.sum(axis=0) - sums, counts.sum(axis=0) - counts
    fold_means = other_sums.sum(axis=1, keepdims=True) / other_counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(other_counts > 0, other_sums / other_counts, fold_means)
    return float(r2_score(target, means[fold, bins]))


def _bins(column: pd.Series) -> np.ndarray:
    """Bin codes ``0..k``: quantile bins for numbers, the commonest values otherwise."""
    if is_numeric_dtype(column) or is_bool_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(values)
        if not present.any():
            return np.zeros(len(values), dtype=np.intp)
        edges = np.unique(np.quantile(values[present], np.linspace(0, 1, N_BINS + 1)[1:-1]))
        codes = np.searchsorted(edges, values, side="right")
        codes[~present] = len(edges) + 1
        return codes
    codes, uniques = pd.factorize(column)
    if len(uniques) < N_BINS:
        return np.where(codes < 0, len(uniques), codes)
    commonest = np.argsort(-np.bincount(codes[codes >= 0]), kind="stable")[: N_BINS - 2]
    rank = np.full(len(uniques), N_BINS - 2)
    rank[commonest] = np.arange(len(commonest))
    return np.where(codes < 0, N_BINS - 1, rank[codes])
