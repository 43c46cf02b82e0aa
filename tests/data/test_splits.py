"""split_holdout and make_cv: seeded, stratified, group- and time-aware, with clear errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_validate,
)

from engine.config.schema import SplitConfig, parse_section
from engine.data import Dataset, make_cv, split_holdout
from engine.errors import ConfigError, DataError

SPLIT_VALUES = {"test_size": 0.2, "test_strategy": "auto",
                "cv": {"strategy": "auto", "n_splits": 5}}


def make_data(
    n_rows: int = 400, *, task: str = "binary", minority: float = 0.1, groups: bool = False,
    order: bool = False,
) -> Dataset:  # fmt: skip
    """Rows with one feature; ``minority`` of them in class 1 (or a float target)."""
    rng = np.random.default_rng(0)
    if task == "regression":
        y = pd.Series(rng.normal(size=n_rows), name="y")
    else:
        y = pd.Series((np.arange(n_rows) % round(1 / minority) == 0).astype(int), name="y")
    return Dataset(
        name="made",
        X=pd.DataFrame({"x": rng.normal(size=n_rows) + y}),
        y=y,
        task=task,
        groups=pd.Series(rng.integers(0, 40, n_rows), name="store") if groups else None,
        order=(
            pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.permutation(n_rows), "D"))
            if order
            else None
        ),
    )


def split_with(**changes: Any) -> SplitConfig:
    """The split config with ``changes``, as the schema reads it (bad values raise here)."""
    cv = {**SPLIT_VALUES["cv"], **changes.pop("cv", {})}
    return parse_section(SplitConfig, {**SPLIT_VALUES, **changes, "cv": cv}, "split.")


SPLIT = split_with()


def test_holdout_is_seeded() -> None:
    data = make_data()
    first, second = split_holdout(data, SPLIT, seed=3), split_holdout(data, SPLIT, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[1], split_holdout(data, SPLIT, seed=4)[1])
    train, test = first
    assert (len(train), len(test)) == (320, 80)
    assert np.array_equal(np.sort(np.r_[train, test]), np.arange(400))


def test_stratified_holdout_keeps_class_proportions() -> None:
    data = make_data(1000, minority=0.1)
    for seed in range(5):
        train, test = split_holdout(data, SPLIT, seed=seed)
        assert data.y.iloc[test].sum() == 20
        assert data.y.iloc[train].sum() == 80


def test_test_size_as_count_zero_and_too_large() -> None:
    data = make_data(100)
    assert len(split_holdout(data, split_with(test_size=30), seed=0)[1]) == 30
    train, test = split_holdout(data, split_with(test_size=0), seed=0)
    assert (len(train), len(test)) == (100, 0)
    with pytest.raises(
        DataError, match=r"split.test_size: 100 takes 100 of the 100 rows .* leaving none"
    ):
        split_holdout(data, split_with(test_size=100), seed=0)
    with pytest.raises(
        ConfigError, match=r"split.test_size: 1.5 is neither a fraction in \(0, 1\) nor a row count"
    ):
        split_holdout(data, split_with(test_size=1.5), seed=0)


def test_stratified_holdout_needs_two_rows_per_class() -> None:
    data = make_data(100)
    lonely = Dataset(
        name="lonely", X=data.X, y=data.y.where(data.y.index != 0, 2), task="multiclass"
    )
    with pytest.raises(
        DataError, match=r"split.test_strategy: .* class 2 has 1. Use split.test_strategy=random"
    ):
        split_holdout(lonely, SPLIT, seed=0)
    assert len(split_holdout(lonely, split_with(test_strategy="random"), seed=0)[1]) == 20


def test_group_holdout_and_folds_never_share_a_group() -> None:
    data = make_data(groups=True)
    split = split_with(test_strategy="group", cv={"strategy": "group"})
    train, test = split_holdout(data, split, seed=0)
    groups = data.groups.to_numpy()
    assert not set(groups[train]) & set(groups[test])
    cv, fold_groups = make_cv(data, split, seed=0, train_idx=train)
    assert isinstance(cv, GroupKFold)
    assert np.array_equal(fold_groups, groups[train])
    for fit_rows, val_rows in cv.split(data.X.iloc[train], data.y.iloc[train], fold_groups):
        assert not set(fold_groups[fit_rows]) & set(fold_groups[val_rows])


def test_stratified_group_folds() -> None:
    data = make_data(groups=True, minority=0.25)
    split = split_with(cv={"strategy": "stratified_group", "n_splits": 4})
    train, _ = split_holdout(data, split, seed=0)
    cv, groups = make_cv(data, split, seed=0, train_idx=train)
    for fit_rows, val_rows in cv.split(data.X.iloc[train], data.y.iloc[train], groups):
        assert not set(groups[fit_rows]) & set(groups[val_rows])
    scores = cross_validate(
        LogisticRegression(), data.X.iloc[train], data.y.iloc[train], cv=cv, groups=groups
    )
    assert len(scores["test_score"]) == 4


def test_time_holdout_tests_on_the_latest_rows_and_cv_looks_forward() -> None:
    data = make_data(order=True)
    split = split_with(test_strategy="time", cv={"strategy": "timeseries", "n_splits": 4})
    train, test = split_holdout(data, split, seed=0)
    times = data.order.to_numpy()
    assert times[train].max() < times[test].min()
    assert len(test) == 80
    cv, groups = make_cv(data, split, seed=0, train_idx=train)
    assert isinstance(cv, TimeSeriesSplit) and groups is None
    for fit_rows, val_rows in cv.split(data.X.iloc[train]):
        assert times[train][fit_rows].max() < times[train][val_rows].min()


def test_timeseries_cv_after_a_random_holdout_still_looks_forward() -> None:
    data = make_data(order=True)
    split = split_with(test_strategy="random", cv={"strategy": "timeseries"})
    train, _ = split_holdout(data, split, seed=0)
    cv, _ = make_cv(data, split, seed=0, train_idx=train)
    times = data.order.to_numpy()[train]
    for fit_rows, val_rows in cv.split(train):
        assert times[fit_rows].max() < times[val_rows].min()


def test_stratification_needs_classification() -> None:
    data = make_data(task="regression")
    with pytest.raises(
        ConfigError,
        match=r"split.test_strategy=stratified needs a classification task, .* regression",
    ):
        split_holdout(data, split_with(test_strategy="stratified"), seed=0)
    with pytest.raises(
        ConfigError, match=r"split.cv.strategy=repeated_stratified needs a classification"
    ):
        make_cv(
            data,
            split_with(cv={"strategy": "repeated_stratified"}),
            seed=0,
            train_idx=np.arange(400),
        )


def test_auto_and_none_strategies() -> None:
    train = np.arange(300)
    cv, groups = make_cv(make_data(), SPLIT, seed=0, train_idx=train)
    assert isinstance(cv, StratifiedKFold) and groups is None
    assert isinstance(
        make_cv(make_data(task="regression"), SPLIT, seed=0, train_idx=train)[0], KFold
    )
    assert make_cv(make_data(), split_with(cv={"strategy": "none"}), seed=0, train_idx=train) == (
        None,
        None,
    )


def test_cv_folds_are_seeded() -> None:
    data = make_data()
    train, _ = split_holdout(data, SPLIT, seed=0)

    def folds(seed: int) -> list[list[int]]:
        cv, _ = make_cv(data, SPLIT, seed=seed, train_idx=train)
        return [val.tolist() for _, val in cv.split(data.X.iloc[train], data.y.iloc[train])]

    assert folds(1) == folds(1)
    assert folds(1) != folds(2)


def test_repeated_strategies() -> None:
    split = split_with(cv={"strategy": "repeated", "n_splits": 4, "n_repeats": 2})
    cv, _ = make_cv(make_data(), split, seed=0, train_idx=np.arange(300))
    assert isinstance(cv, RepeatedStratifiedKFold) and cv.get_n_splits() == 8


def test_too_few_members_for_stratified_folds() -> None:
    data = make_data(100, minority=0.1)
    with pytest.raises(
        DataError,
        match=r"split.cv.n_splits: class 1 has only 3 training rows, fewer than "
        r"split.cv.n_splits=5.*Lower it: split.cv.n_splits=3\.",
    ):
        make_cv(data, SPLIT, seed=0, train_idx=np.arange(30))


def test_misspelt_strategies_suggest_the_closest() -> None:
    data = make_data()
    with pytest.raises(
        ConfigError,
        match=r"split.test_strategy: unknown strategy 'stratifed'. Did you mean 'stratified'\?",
    ):
        split_holdout(data, split_with(test_strategy="stratifed"), seed=0)
    with pytest.raises(
        ConfigError, match=r"split.cv.strategy: unknown strategy 'kfolds'. Did you mean 'kfold'\?"
    ):
        make_cv(data, split_with(cv={"strategy": "kfolds"}), seed=0, train_idx=np.arange(400))
    with pytest.raises(ConfigError, match=r"split.cv.n_splits: 1 is not a whole number >= 2"):
        make_cv(data, split_with(cv={"n_splits": 1}), seed=0, train_idx=np.arange(400))


def test_a_seeded_sample_is_sorted_bounded_and_repeatable() -> None:
    from engine.data.splits import seeded_sample

    assert seeded_sample(5, 10, seed=0).tolist() == [0, 1, 2, 3, 4]
    rows = seeded_sample(1000, 100, seed=3)
    assert len(rows) == len(set(rows.tolist())) == 100
    assert (np.diff(rows) > 0).all() and rows.max() < 1000
    assert rows.tolist() == seeded_sample(1000, 100, seed=3).tolist()
    assert rows.tolist() != seeded_sample(1000, 100, seed=4).tolist()


def test_a_stratified_seeded_sample_keeps_every_class() -> None:
    from engine.data.splits import seeded_sample

    classes = np.array([0] * 9990 + [1] * 8 + [2] * 2)
    rows = seeded_sample(len(classes), 100, seed=0, strata=classes)
    assert set(classes[rows].tolist()) == {0, 1, 2}
    assert 99 <= len(rows) <= 102 and (np.diff(rows) > 0).all()
