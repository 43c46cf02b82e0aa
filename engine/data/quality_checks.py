"""The individual data quality checks; each returns a list of findings."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_float_dtype, is_integer_dtype, is_numeric_dtype

from engine.data.column_types import ColumnTypes
from engine.data.dataset import Dataset
from engine.data.findings import Finding
from engine.data.leakage import single_feature_scores
from engine.data.validation import pasteable, shown


def is_categorical(column: pd.Series) -> bool:
    """Text, category, bool or object columns: values that name things rather than measure them."""
    return is_bool_dtype(column) or not (
        is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column)
    )


def missing_values(
    missing: pd.Series, n_rows: int, *, limit: float, severity: str
) -> list[Finding]:
    """``info`` for any missing value; ``severity`` when a column misses more than ``limit``.

    A missing value often means "none", so a mostly-missing column is kept: features=auto fills
    it with a missing indicator beside it (a missing category for text)."""
    findings = []
    for column, count in missing[missing > 0].items():
        fraction = count / n_rows
        too_many = fraction > limit
        advice = (
            f", more than quality.max_missing_fraction={limit}. features=auto imputes it and "
            "adds a missing indicator (text gets a 'missing' category), so the model still "
            "learns from whether it is present; drop it with dataset.drop if it means nothing."
            if too_many
            else "."
        )
        findings.append(
            Finding(
                "missing_values",
                severity if too_many else "info",
                f"column '{column}' is missing in {fraction:.1%} of rows "
                f"({count:,} of {n_rows:,}){advice}",
                column=str(column),
                value=round(float(fraction), 6),
            )
        )
    return findings


def missing_target(data: Dataset, *, severity: str) -> list[Finding]:
    """Rows the loader removed because their target was missing."""
    dropped = data.dropped_missing_target
    if not dropped:
        return []
    total = dropped + len(data.y)
    return [
        Finding(
            "missing_target",
            severity,
            f"{dropped:,} of {total:,} rows ({dropped / total:.1%}) had no value in target "
            f"'{data.y.name}' and were removed before training.",
            column=str(data.y.name),
            value=dropped,
        )
    ]


def duplicate_rows(duplicates: int, n_rows: int, *, severity: str) -> list[Finding]:
    """Rows that repeat an earlier row exactly, features and target together."""
    if not duplicates:
        return []
    return [
        Finding(
            "duplicate_rows",
            severity,
            f"{duplicates:,} rows ({duplicates / n_rows:.2%}) repeat an earlier row (features and "
            "target). Copies that land in both training and test folds inflate scores; remove "
            "them from the data unless they are genuine repeats.",
            value=duplicates,
        )
    ]


def constant_columns(X: pd.DataFrame, *, severity: str) -> tuple[list[str], list[Finding]]:
    """Columns with at most one distinct non-missing value; they cannot help a model."""
    constant = [column for column in X.columns if _at_most_one_value(X[column])]
    findings = [
        Finding(
            "constant_columns",
            severity,
            f"column '{column}' has a single value ({shown(_first_value(X[column]))}) in every "
            "non-missing row; it carries no information. Drop it with dataset.drop.",
            column=str(column),
        )
        for column in constant
    ]
    return constant, findings


def id_like_columns(
    X: pd.DataFrame, *, unique_fraction: float, severity: str
) -> tuple[list[str], list[Finding]]:
    """Text or integer columns with (almost) one distinct value per row, such as ids or names."""
    id_like, findings = [], []
    for column in X.columns:
        values = X[column]
        if is_bool_dtype(values) or not (is_integer_dtype(values) or is_categorical(values)):
            continue  # floats are measurements, never identifiers
        fraction = values.nunique() / len(values)
        if fraction >= unique_fraction:
            id_like.append(column)
            findings.append(
                Finding(
                    "id_like_columns",
                    severity,
                    f"column '{column}' has a distinct value in {fraction:.1%} of rows "
                    f"(quality.id_like_unique_fraction={unique_fraction}); it looks like an "
                    "identifier, which a model can only memorise. Drop it with dataset.drop.",
                    column=str(column),
                    value=round(float(fraction), 6),
                )
            )
    return id_like, findings


def missing_markers(types: ColumnTypes, columns: Collection[str], *,
                    severity: str) -> list[Finding]:
    """Columns of numbers or dates read as text because of a few markers such as ``?``."""
    findings = []
    for column, found in types.markers.items():
        if column not in columns:
            continue
        listed = ", ".join(f"{shown(value)} in {count:,} rows" for value, count in found.items())
        findings.append(
            Finding(
                "missing_markers",
                severity,
                f"column '{column}' holds {types.kinds[column]} apart from {listed}, so it was "
                "read as text and would be encoded as categories. If those values mark missing "
                f"data, {types.fix}.",
                column=column,
                value=sum(found.values()),
            )
        )
    return findings


def high_cardinality(X: pd.DataFrame, *, unique_fraction: float, levels: int,
                     severity: str) -> list[Finding]:
    """Text or category columns with more distinct values than a model can learn as categories."""
    findings = []
    for column in X.columns:
        values = X[column]
        if is_bool_dtype(values) or not is_categorical(values):
            continue
        count = int(values.nunique())
        fraction = count / len(values)
        if fraction <= unique_fraction and count <= levels:
            continue
        findings.append(
            Finding(
                "high_cardinality",
                severity,
                f"column '{column}' has {count:,} distinct values in {len(values):,} rows "
                f"({fraction:.1%}; quality.high_cardinality_fraction={unique_fraction}, "
                f"quality.high_cardinality_levels={levels}); as categories most are too rare to "
                "learn from, and a one-hot encoding keeps only the most frequent. Drop it with "
                "dataset.drop, derive a coarser column from it, or, if it is free text, give it a "
                "text block (see features=text).",
                column=str(column),
                value=count,
            )
        )
    return findings


def date_columns(X: pd.DataFrame, *, suggest_split: bool, severity: str) -> list[Finding]:
    """Date columns, which become date features; with no time order yet, how to split by one."""
    findings = []
    for column in X.columns:
        values = X[column]
        if not pd.api.types.is_datetime64_any_dtype(values):
            continue
        span = (f" from {values.min():%Y-%m-%d} to {values.max():%Y-%m-%d}"
                if values.notna().any() else "")
        split = (
            " To test on the latest rows instead of random ones, split by time: "
            f"{pasteable('split', 'time')} {pasteable('dataset.time_column', str(column))} "
            "(the column then orders the rows instead of being a feature)."
            if suggest_split else ""
        )
        findings.append(
            Finding(
                "date_columns",
                severity,
                f"column '{column}' holds dates{span}; features=auto turns it into year, month, "
                f"day, weekday and days since the earliest training date.{split}",
                column=str(column),
            )
        )
    return findings


def leakage(
    data: Dataset, columns: list[str], *, threshold: float, sample_rows: int, seed: int,
    severity: str,
) -> list[Finding]:  # fmt: skip
    """Features that alone predict the target almost perfectly: probably the target in disguise."""
    scores = single_feature_scores(
        data.X[columns], data.y, classification=data.is_classification,
        sample_rows=sample_rows, seed=seed,
    )  # fmt: skip
    metric = "balanced accuracy" if data.is_classification else "R2"
    return [
        Finding(
            "leakage",
            severity,
            f"column '{column}' alone predicts target '{data.y.name}' with {metric} {score:.3f} "
            f"(3-fold CV over 32 bins of the column, at or above "
            f"quality.leakage_threshold={threshold}). "
            "It probably encodes the target: drop it with dataset.drop unless it is truly known "
            "when predicting.",
            column=str(column),
            value=round(score, 6),
        )
        for column, score in scores.items()
        if score >= threshold
    ]


def outliers(X: pd.DataFrame, *, z: float, fraction: float, severity: str) -> list[Finding]:
    """Numeric columns with more than ``fraction`` of their values beyond a robust z-score of
    ``z``: |x - median| / (1.4826 MAD), which a few extreme values cannot mask as they would a
    mean and standard deviation. A column whose MAD is 0 (most values equal: a flag, a count
    that is mostly zero) has no robust scale, and is left out."""
    from scipy.stats import median_abs_deviation

    findings = []
    for column in X.columns:
        if not is_numeric_dtype(X[column]) or is_bool_dtype(X[column]):
            continue
        values = pd.to_numeric(X[column]).to_numpy(float)
        values = values[np.isfinite(values)]
        scale = median_abs_deviation(values, scale="normal") if len(values) else 0.0
        if not scale > 0:
            continue
        median = float(np.median(values))
        beyond = int(np.count_nonzero(np.abs(values - median) > z * scale))
        share = beyond / len(values)
        if share <= fraction:
            continue
        findings.append(
            Finding(
                "outliers",
                severity,
                f"column '{column}' has {beyond:,} of {len(values):,} values ({share:.1%}) more "
                f"than quality.outlier_z={z} robust standard deviations ({scale:.4g}, from the "
                f"MAD) from its median {median:.4g}, above quality.outlier_fraction={fraction}. "
                "Check them for entry errors or mixed units; genuine extremes are better "
                "served by a tree model or a log or quantile transform than by dropping them.",
                column=str(column),
                value=round(share, 6),
            )
        )
    return findings


def class_imbalance(class_counts: pd.Series, *, ratio_limit: float, severity: str) -> list[Finding]:
    """A majority class at least ``ratio_limit`` times the minority class."""
    ratio = class_counts.max() / class_counts.min()
    if ratio < ratio_limit:
        return []
    return [
        Finding(
            "class_imbalance",
            severity,
            f"class {shown(class_counts.idxmax())} has {class_counts.max():,} rows and class "
            f"{shown(class_counts.idxmin())} only {class_counts.min():,} (ratio {ratio:.1f}, "
            f"quality.imbalance_ratio={ratio_limit}). Prefer stratified splits and metrics such "
            "as balanced accuracy or ROC AUC; consider class weights.",
            value=round(float(ratio), 6),
        )
    ]


def _at_most_one_value(column: pd.Series) -> bool:
    """Min equals max for floats (cheap on a million rows); a distinct count otherwise."""
    if is_float_dtype(column):
        return not column.notna().any() or column.min() == column.max()
    return column.nunique() <= 1


def _first_value(column: pd.Series) -> object:
    """The first non-missing value, or None for an all-missing column."""
    present = column.dropna()
    return present.iloc[0] if len(present) else None
