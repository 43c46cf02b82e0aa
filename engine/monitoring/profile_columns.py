"""One column's distribution as a reference keeps it: quantile bins for numbers, the shares of
the most frequent categories, the lengths of free text.

Each profile is a few vectorised passes (a quantile, a histogram, a value count), so profiling a
million rows by fifty columns costs seconds, not a model fit. ``monitor`` bins new rows by the
same edges and categories, so a profile is all it needs for the distances and the gauges.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from engine.tracking.records import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    TextProfile,
)


def column_profiles(frame: pd.DataFrame, *, text_columns: Collection[str], bins: int,
                    max_categories: int) -> dict[str, ColumnProfile]:
    """Every column of ``frame`` profiled by its kind (see :func:`column_profile`)."""
    return {str(name): column_profile(frame[name], text=name in text_columns, bins=bins,
                                      max_categories=max_categories)
            for name in frame.columns}


def column_profile(values: pd.Series, *, text: bool, bins: int,
                   max_categories: int) -> ColumnProfile:
    """Free text by its lengths; numbers (and dates, as seconds since 1970 UTC) by quantile
    bins; booleans, text and categories by their shares."""
    if text:
        return text_profile(values, bins=bins)
    if (is_numeric_dtype(values) and not is_bool_dtype(values)) or is_datetime64_any_dtype(values):
        return numeric_profile(numbers(values), bins=bins)
    return categorical_profile(values, max_categories=max_categories)


def numbers(values: pd.Series) -> np.ndarray:
    """A numeric or date column as floats, NaN where missing; dates as seconds since 1970."""
    if is_datetime64_any_dtype(values):
        seconds = values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz else values
        return (seconds - pd.Timestamp(0)).dt.total_seconds().to_numpy(float)
    return pd.to_numeric(values, errors="coerce").to_numpy(float, na_value=np.nan)


def numeric_profile(values: np.ndarray, *, bins: int) -> NumericProfile:
    """Up to ``bins`` quantile bins of the finite values (tied edges merged, so a column of few
    values has fewer bins), each bin's share, the range and moments; ``missing`` is the share of
    values that are not finite. A column with no finite value has no bins and zero moments."""
    present = np.sort(values[np.isfinite(values)])  # one sort serves the edges and the counts
    count, total = len(present), len(values)
    missing = 1 - count / total if total else 0.0
    if not count:
        return NumericProfile(edges=[], shares=[], minimum=0.0, maximum=0.0, mean=0.0, std=0.0,
                              missing=missing, count=0)
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)))
    if len(edges) == 1:  # a constant: one bin holding every value
        edges, shares = np.repeat(edges, 2), np.ones(1)
    else:  # as np.histogram counts: each bin [low, high), the last one [low, high]
        below = np.searchsorted(present, edges, side="left")
        below[-1] = count
        shares = np.diff(below) / count
    return NumericProfile(edges=edges.tolist(), shares=shares.tolist(),
                          minimum=float(edges[0]), maximum=float(edges[-1]),
                          mean=float(present.mean()),
                          std=float(present.std(ddof=1)) if count > 1 else 0.0,
                          missing=missing, count=count)


def categorical_profile(values: pd.Series, *, max_categories: int) -> CategoricalProfile:
    """The ``max_categories`` most frequent values' shares of the non-missing values, keyed by
    their text (``True``, ``3``, ``paris``), and the rest's share as ``other``."""
    counts = values.value_counts(dropna=True)
    count = int(counts.sum())
    shares: dict[str, float] = {}
    for value, n in counts.iloc[:max_categories].items():
        shares[str(value)] = shares.get(str(value), 0.0) + int(n) / count
    rest = int(counts.iloc[max_categories:].sum())
    return CategoricalProfile(shares=shares, other=rest / count if count else 0.0,
                              missing=1 - count / len(values) if len(values) else 0.0,
                              count=count)


def text_profile(values: pd.Series, *, bins: int) -> TextProfile:
    """Free text by its length in characters: new text that is suddenly longer or shorter is
    the drift a bag of words would show first."""
    lengths = values.astype("string").str.len().to_numpy(float, na_value=np.nan)
    length = numeric_profile(lengths, bins=bins)
    return TextProfile(length=length, missing=length.missing, count=length.count)
