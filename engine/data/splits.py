"""The held-out test split and the cross-validation folds, both seeded.

Row indices are positions in ``Dataset.X``. When the dataset has a time order, ``split_holdout``
returns both index arrays sorted by time (ties keep file order), so ``X.iloc[train_idx]`` is in
time order and ``TimeSeriesSplit`` on it only ever validates on later rows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    TimeSeriesSplit,
    train_test_split,
)

from engine.config.schema.split import NEEDS_GROUPS, SplitConfig
from engine.data.dataset import Dataset
from engine.data.validation import shown
from engine.errors import ConfigError, DataError

if TYPE_CHECKING:
    from sklearn.model_selection import BaseCrossValidator

    Splitter: TypeAlias = BaseCrossValidator | RepeatedKFold | RepeatedStratifiedKFold

FOLD_SPLITTERS = {
    "kfold": KFold,
    "stratified": StratifiedKFold,
    "group": GroupKFold,
    "stratified_group": StratifiedGroupKFold,
}
REPEATED_SPLITTERS = {
    "repeated_kfold": RepeatedKFold,
    "repeated_stratified": RepeatedStratifiedKFold,
}
NEEDS_CLASSES = {"stratified", "stratified_group", "repeated_stratified"}


def split_holdout(
    data: Dataset, split: SplitConfig, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and test rows; ``split.test_size: 0`` gives an empty test set.

    ``time`` puts the latest rows in the test set; ``group`` keeps each group on one side, and
    there ``test_size`` counts groups (a fraction of them, or a number of them).
    """
    strategy = _resolve_strategy(split.test_strategy, "split.test_strategy", data)
    test_size = split.test_size
    n_rows = len(data.y)
    n_test = _test_rows(split, n_rows)
    rows = np.arange(n_rows)
    if n_test == 0:
        return _in_row_order(rows, data), rows[:0]
    if strategy == "time":
        by_time = _in_row_order(rows, data)
        return by_time[:-n_test], by_time[-n_test:]
    if strategy == "group":
        train, test = _group_holdout(data, test_size, seed)
    else:
        stratify = data.y.to_numpy() if strategy == "stratified" else None
        if stratify is not None:
            _check_stratified_holdout(data.y, n_test, n_rows)
        train, test = train_test_split(rows, test_size=n_test, random_state=seed, stratify=stratify)
    return _in_row_order(train, data), _in_row_order(test, data)


def make_cv(
    data: Dataset, split: SplitConfig, *, seed: int, train_idx: np.ndarray
) -> tuple[Splitter | None, np.ndarray | None]:
    """A splitter for the training rows, and their groups for ``cross_validate`` (group CV only).

    Returns ``(None, None)`` for ``split.cv.strategy: none``.
    """
    cv = split.cv
    strategy = _resolve_strategy(cv.strategy, "split.cv.strategy", data)
    if strategy == "none":
        return None, None
    train_idx = np.asarray(train_idx)
    n_splits, n_repeats, shuffle = cv.n_splits, cv.n_repeats, cv.shuffle
    if n_splits > len(train_idx):
        raise DataError(
            f"split.cv.n_splits: {n_splits} folds need at least {n_splits} training rows, but "
            f"there are {len(train_idx)}. Lower split.cv.n_splits or split.test_size."
        )
    if strategy in NEEDS_CLASSES:
        _check_fold_classes(data.y.iloc[train_idx], n_splits)
    groups = None
    if strategy in NEEDS_GROUPS:
        assert data.groups is not None  # the schema refused the strategy without group_column
        groups = data.groups.to_numpy()[train_idx]
        _check_fold_groups(groups, n_splits)
    if strategy == "timeseries":
        _check_time_ordered(data, train_idx)
        return TimeSeriesSplit(n_splits), groups
    if strategy in REPEATED_SPLITTERS:
        splitter = REPEATED_SPLITTERS[strategy]
        return splitter(n_splits=n_splits, n_repeats=n_repeats, random_state=seed), groups
    # sklearn refuses a random_state when the folds are not shuffled
    random_state = seed if shuffle else None
    return FOLD_SPLITTERS[strategy](n_splits, shuffle=shuffle, random_state=random_state), groups


def _resolve_strategy(strategy: str, key: str, data: Dataset) -> str:
    """Resolve ``auto``, and check the task suits the strategy (the schema has checked that a
    group or time strategy has its column).

    ``auto`` is stratified for classification and random (kfold for CV) for regression; it never
    picks group or time splits by itself. ``repeated`` is likewise repeated_stratified or
    repeated_kfold.
    """
    if strategy == "auto":
        unstratified = "random" if key == "split.test_strategy" else "kfold"
        return "stratified" if data.is_classification else unstratified
    if strategy == "repeated":
        return "repeated_stratified" if data.is_classification else "repeated_kfold"
    if strategy in NEEDS_CLASSES and not data.is_classification:
        raise ConfigError(
            f"{key}={strategy} needs a classification task, but dataset '{data.name}' is "
            f"{data.task}. Use {key}=auto."
        )
    return strategy


def _test_rows(split: SplitConfig, n_rows: int) -> int:
    """The number of test rows: ``ceil(fraction * rows)`` for a fraction, else the count itself."""
    test_size = split.test_size
    n_test = math.ceil(test_size * n_rows) if split.is_fraction else int(test_size)
    if n_test >= n_rows:
        raise DataError(
            f"split.test_size: {test_size} takes {n_test} of the {n_rows} rows for testing, "
            f"leaving none to train on. Use a smaller split.test_size (e.g. 0.2)."
        )
    return n_test


def _group_holdout(data: Dataset, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of whole groups; ``test_size`` is a fraction or a number of groups."""
    assert data.groups is not None  # the schema refused the strategy without group_column
    groups = data.groups.to_numpy()
    n_groups = len(pd.unique(groups))
    if n_groups < 2 or (test_size >= 1 and test_size >= n_groups):
        raise DataError(
            f"split.test_size: {test_size} with split.test_strategy=group counts groups, and "
            f"dataset.group_column has {n_groups}; at least one group must stay for training. "
            "Use a fraction such as 0.2, or fewer groups."
        )
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    return next(splitter.split(groups, groups=groups))


def _check_stratified_holdout(y: pd.Series, n_test: int, n_rows: int) -> None:
    """Each class needs a row on both sides, and each side a row of each class."""
    counts = y.value_counts()
    if counts.min() < 2:
        raise DataError(
            "split.test_strategy: a stratified split needs at least 2 rows of every class, but "
            f"class {shown(counts.idxmin())} has {counts.min()}. Use split.test_strategy=random, "
            "or remove that class from the data."
        )
    if min(n_test, n_rows - n_test) < len(counts):
        raise DataError(
            f"split.test_size: {n_test} test and {n_rows - n_test} training rows cannot each "
            f"hold all {len(counts)} classes. Choose a split.test_size between {len(counts)} "
            f"and {n_rows - len(counts)} rows, or use split.test_strategy=random."
        )


def _check_fold_classes(y: pd.Series, n_splits: int) -> None:
    """Stratified folds need every class at least ``n_splits`` times among the training rows."""
    counts = y.value_counts()
    if counts.min() < n_splits:
        raise DataError(
            f"split.cv.n_splits: class {shown(counts.idxmin())} has only {counts.min()} training "
            f"rows, fewer than split.cv.n_splits={n_splits}, so stratified folds cannot all "
            f"hold it. Lower it: split.cv.n_splits={max(counts.min(), 2)}."
        )


def _check_fold_groups(groups: np.ndarray, n_splits: int) -> None:
    """Group folds need at least ``n_splits`` distinct groups among the training rows."""
    n_groups = len(pd.unique(groups))
    if n_groups < n_splits:
        raise DataError(
            f"split.cv.n_splits: {n_splits} group folds need at least {n_splits} groups, but the "
            f"training rows hold {n_groups}. Lower split.cv.n_splits to {n_groups} or less."
        )


def _check_time_ordered(data: Dataset, train_idx: np.ndarray) -> None:
    """TimeSeriesSplit assumes rows in time order; split_holdout returns them that way."""
    assert data.order is not None  # the schema refused the strategy without time_column
    if not data.order.iloc[train_idx].is_monotonic_increasing:
        raise ValueError(
            "timeseries CV needs train_idx in time order; pass the train_idx that split_holdout "
            "returns, which sorts rows by dataset.time_column."
        )


def _in_row_order(rows: np.ndarray, data: Dataset) -> np.ndarray:
    """Sort positions by time when the dataset has a time order, else ascending."""
    rows = np.sort(rows)
    if data.order is None:
        return rows
    return rows[np.argsort(data.order.to_numpy()[rows], kind="stable")]


def seeded_sample(n_rows: int, limit: int, seed: int,
                  strata: np.ndarray | None = None) -> np.ndarray:
    """Sorted positions of at most about ``limit`` of ``n_rows`` rows, drawn with ``seed`` (all
    rows when there are no more than ``limit``): bounds the cost of a check on large data.

    With ``strata`` (the class of each row) every class keeps its share and at least one row,
    so a rare class is never missing from the sample.
    """
    if n_rows <= limit:
        return np.arange(n_rows)
    rng = np.random.default_rng(seed)
    if strata is None:
        return np.sort(rng.choice(n_rows, limit, replace=False))
    picked = []
    for value in np.unique(strata):
        members = np.flatnonzero(strata == value)
        share = max(1, round(limit * len(members) / n_rows))
        picked.append(rng.choice(members, min(share, len(members)), replace=False))
    return np.sort(np.concatenate(picked))
