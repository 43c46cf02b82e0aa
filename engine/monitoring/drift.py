"""Drift of one column's new values against its reference, and the dataset's verdict.

Each column is compared once, vectorised, by the test its kind and ``DriftConfig`` name:

- numeric (and text, by its length in characters): the two-sample Kolmogorov-Smirnov test
  against the reference sample's values, or the normed Wasserstein distance (divided by the
  reference's standard deviation, as Evidently norms it); PSI and Jensen-Shannon distance on the
  profile's quantile bins. Without a reference sample the two-sample tests fall back to the
  profile's bins: ``chi2_bins`` (chi-square of the binned counts) for KS, ``wasserstein_bins``
  (bin midpoints weighted by their shares) for Wasserstein.
- categorical: chi-square of the reference's and the current counts (a two-sample test, so a
  small reference is not mistaken for the truth), a two-proportion z-test for binary columns,
  Jensen-Shannon distance and PSI. Categories the profile does not list count as its ``other``.
- ``auto``: the p-value tests (KS, chi-square, z) up to ``large_sample_rows`` current values,
  the distances (Wasserstein, Jensen-Shannon) above, because on large samples every p-value is
  tiny and every column would drift.

Missing (and, for numbers, infinite) values are left out of every test: the missing rate is a
data-quality check, not drift. A column whose current values are all missing drifts (test
``missing``). Every statistic is a scipy function or composed of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance
from scipy.special import rel_entr

from engine.config.schema.monitor import DriftConfig
from engine.tracking.records import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    TextProfile,
)

P_VALUE_TESTS = frozenset({"ks", "chi2", "z", "chi2_bins"})
"""Tests whose statistic is judged by its p-value: drift below the threshold."""
THRESHOLD_OF = {"chi2_bins": "chi2", "wasserstein_bins": "wasserstein"}
"""A fallback test reads the threshold of the test it stands in for."""
SHARE_FLOOR = 1e-4
"""PSI's floor for an empty bin's share, so that its logarithm stays finite (Evidently's)."""
MIN_EXPECTED = 5.0
"""Chi-square cells expected to hold fewer current values than this are pooled (Cochran)."""
EXACT_KS_PAIRS = 10_000
"""KS p-values are exact up to this many reference x current pairs (100 x 100), asymptotic
above: scipy's exact method is slow there and gives up on ties, and the asymptotic one is
accurate."""
MIN_STD = 1e-3
"""The Wasserstein distance of a constant reference column is divided by this (Evidently's)."""


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift: which test ran, its statistic (a distance, or the test's statistic
    for p-value tests), the p-value where the test has one, the threshold and the verdict."""

    column: str
    kind: str
    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def column_drift(column: str, reference: ColumnProfile, reference_values: pd.Series | None,
                 current: pd.Series, settings: DriftConfig) -> ColumnDrift:
    """Compare ``current`` with the column's reference profile (and its reference sample's
    values, when the bundle kept some) by the test ``settings`` name for the column's kind.

    >>> column_drift("age", profile.columns["age"], sample["age"], rows["age"], DriftConfig())
    ColumnDrift(column='age', kind='numeric', test='ks', statistic=0.21, p_value=3e-31, ...)
    """
    if isinstance(reference, CategoricalProfile):
        return _categorical_drift(column, reference, current, settings)
    if isinstance(reference, TextProfile):
        lengths = None if reference_values is None else text_lengths(reference_values)
        return _numeric_drift(column, "text", reference.length, lengths, text_lengths(current),
                              settings)
    return _numeric_drift(column, "numeric", reference, reference_values, current, settings)


def dataset_drift(results: Sequence[ColumnDrift], settings: DriftConfig) -> bool:
    """The dataset drifts when at least ``drift_share`` of its compared columns do."""
    if not results:
        return False
    drifted = sum(result.drifted for result in results)
    return drifted / len(results) >= settings.drift_share


def window_distance(reference: ColumnProfile, current: pd.Series) -> float:
    """The Jensen-Shannon distance between the profile's shares and the current values binned
    by its edges (or counted by its categories): cheap, profile only, for the server's gauges.
    0.0 when no current value is present."""
    if isinstance(reference, CategoricalProfile):
        expected, observed = _category_counts(reference, current)
    else:
        numeric = reference.length if isinstance(reference, TextProfile) else reference
        values = text_lengths(current) if isinstance(reference, TextProfile) else current
        expected, observed = _bin_counts(numeric, _finite(values))
    if observed.sum() == 0 or expected.sum() == 0:
        return 0.0
    return float(distance.jensenshannon(expected, observed))


def text_lengths(values: pd.Series) -> pd.Series:
    """Each present text's length in characters (missing stays missing)."""
    present = values.dropna()
    return present.astype(str).str.len().astype(float)


def bin_indices(edges: Sequence[float], values: np.ndarray) -> np.ndarray:
    """Each value's bin among the profile's ``edges`` (``bins + 1`` of them): bins are closed on
    the left, the last on both sides as ``numpy.histogram`` does, and values outside the
    reference's range fall in the first or last bin."""
    inner = np.asarray(edges[1:-1], dtype=float)
    return np.searchsorted(inner, values, side="right")


# ---------------------------------------------------------------------------------------------
# numeric


def _numeric_drift(column: str, kind: str, profile: NumericProfile,
                   reference_values: pd.Series | None, current: pd.Series,
                   settings: DriftConfig) -> ColumnDrift:
    values = _finite(current)
    if values.size == 0:
        return _all_missing(column, kind, profile.count > 0)
    reference = None if reference_values is None else _finite(reference_values)
    if reference is not None and reference.size == 0:
        reference = None
    test = settings.numeric_test
    if test == "auto":
        test = "ks" if values.size <= settings.large_sample_rows else "wasserstein"
    if test == "ks":
        if reference is None:
            return _judge(column, kind, "chi2_bins", *_binned_chi2(profile, values), settings)
        exact = reference.size * values.size <= EXACT_KS_PAIRS
        result = stats.ks_2samp(reference, values, method="exact" if exact else "asymp")
        return _judge(column, kind, "ks", float(result.statistic), float(result.pvalue),
                      settings)
    if test == "wasserstein":
        if reference is None:
            return _judge(column, kind, "wasserstein_bins", _binned_wasserstein(profile, values),
                          None, settings)
        return _judge(column, kind, "wasserstein", _wasserstein(reference, values), None,
                      settings)
    expected, observed = _bin_counts(profile, values)
    return _judge(column, kind, test, _distance(test, expected, observed), None, settings)


def _wasserstein(reference: np.ndarray, values: np.ndarray) -> float:
    """scipy's Wasserstein distance divided by the reference's standard deviation. A column of
    few distinct values (counts, ages, ratings) is passed as its distinct values weighted by
    their counts: the same distance, without sorting a million ties."""
    norm = max(float(np.std(reference)), MIN_STD)
    distinct, counts = np.unique(reference, return_counts=True)
    if distinct.size * 2 > reference.size:
        return _cdf_distance(reference, values) / norm
    current = pd.Series(values).value_counts(sort=False)
    moved = stats.wasserstein_distance(distinct, current.index.to_numpy(dtype=float), counts,
                                       current.to_numpy(dtype=float))
    return float(moved) / norm


def _cdf_distance(reference: np.ndarray, values: np.ndarray) -> float:
    """``scipy.stats.wasserstein_distance(reference, values)`` (unweighted), the same arrays
    formed the same way so the same number to the last bit, in half the time on a million
    values: each side sorted once (scipy argsorts both and then sorts their union again), the
    union merged from the two sorted sides."""
    u_sorted, v_sorted = np.sort(reference), np.sort(values)
    all_values = np.insert(v_sorted, np.searchsorted(v_sorted, u_sorted), u_sorted)
    points = all_values[:-1]
    u_cdf = u_sorted.searchsorted(points, "right") / u_sorted.size
    v_cdf = v_sorted.searchsorted(points, "right") / v_sorted.size
    return float(np.vecdot(np.abs(u_cdf - v_cdf), np.diff(all_values)))


def _finite(values: pd.Series) -> np.ndarray:
    """The present, finite values as floats (booleans as 0/1, text that is no number dropped)."""
    if values.dtype == bool or isinstance(values.dtype, pd.BooleanDtype):
        values = values.astype("Float64")
    if not pd.api.types.is_numeric_dtype(values.dtype):
        values = pd.to_numeric(values, errors="coerce")
    array = values.to_numpy(dtype=float, na_value=np.nan)
    return array[np.isfinite(array)]


def _bin_counts(profile: NumericProfile, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference's shares and the current values' counts per profile bin."""
    bins = len(profile.shares)
    observed = np.bincount(bin_indices(profile.edges, values), minlength=bins)[:bins]
    return np.asarray(profile.shares, dtype=float), observed.astype(float)


def _binned_chi2(profile: NumericProfile, values: np.ndarray) -> tuple[float, float]:
    expected, observed = _bin_counts(profile, values)
    return _chi2(expected * _present(profile), observed)


def _binned_wasserstein(profile: NumericProfile, values: np.ndarray) -> float:
    """Wasserstein distance between the reference's and the current bin shares, each bin at
    its midpoint, normed by the profile's standard deviation."""
    expected, observed = _bin_counts(profile, values)
    edges = np.asarray(profile.edges, dtype=float)
    middles = (edges[:-1] + edges[1:]) / 2
    keep = (expected + observed) > 0
    if not keep.any() or expected[keep].sum() == 0:
        return 0.0
    moved = stats.wasserstein_distance(middles[keep], middles[keep], expected[keep],
                                       observed[keep])
    return float(moved) / max(profile.std, MIN_STD)


# ---------------------------------------------------------------------------------------------
# categorical


def _categorical_drift(column: str, profile: CategoricalProfile, current: pd.Series,
                       settings: DriftConfig) -> ColumnDrift:
    expected, observed = _category_counts(profile, current)
    if observed.sum() == 0:
        return _all_missing(column, "categorical", profile.count > 0)
    test = settings.categorical_test
    if test == "auto":
        test = "chi2" if observed.sum() <= settings.large_sample_rows else "jensenshannon"
        if test == "chi2" and int(((expected + observed) > 0).sum()) == 2:
            test = "z"
    if test in ("chi2", "z"):
        reference = expected * _present(profile)
        if test == "z" and int(((reference + observed) > 0).sum()) != 2:
            test = "chi2"  # a z-test compares two proportions: not binary here
        if test == "z":
            return _judge(column, "categorical", "z", *_z_test(reference, observed), settings)
        return _judge(column, "categorical", "chi2", *_chi2(reference, observed), settings)
    return _judge(column, "categorical", test, _distance(test, expected, observed), None,
                  settings)


def _category_counts(profile: CategoricalProfile,
                     current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The reference's shares and the current counts, one cell per profiled category and one
    last cell, ``other``, for the rest and for categories the reference never saw."""
    counts = current.value_counts(dropna=True)
    names = list(profile.shares)
    position = {name: index for index, name in enumerate(names)}
    observed = np.zeros(len(names) + 1)
    if len(counts):
        cells = np.fromiter((_cell(position, value, len(names)) for value in counts.index),
                            dtype=np.intp, count=len(counts))
        np.add.at(observed, cells, counts.to_numpy(dtype=float))
    expected = np.asarray([*profile.shares.values(), profile.other], dtype=float)
    return expected, observed


def _cell(position: dict[str, int], value: Any, other: int) -> int:
    """A value's cell: the profiled category written as its text (JSON keys are text), or the
    same number written without its ``.0`` (a category read back as a float), or ``other``."""
    if isinstance(value, np.generic):
        value = value.item()
    found = position.get(str(value))
    if found is None and isinstance(value, float) and value.is_integer():
        found = position.get(str(int(value)))
    return other if found is None else found


def _z_test(reference: np.ndarray, observed: np.ndarray) -> tuple[float, float]:
    """The pooled two-proportion z-test: its square is Pearson's chi-square of the 2x2 table
    without continuity correction, so scipy's gives its p-value; the statistic is signed by
    the direction the first category's share moved."""
    keep = (reference + observed) > 0
    ref, cur = reference[keep], observed[keep]
    chi2, p_value, _, _ = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    sign = np.sign(cur[0] / cur.sum() - ref[0] / ref.sum()) if ref.sum() > 0 else 1.0
    return float(sign * np.sqrt(chi2)), float(p_value)


# ---------------------------------------------------------------------------------------------
# shared


def _chi2(reference: np.ndarray, observed: np.ndarray) -> tuple[float, float]:
    """Chi-square of the 2 x k table of reference and current counts, cells too sparse for the
    approximation pooled into one; (0, 1) when fewer than two cells are left."""
    reference, observed = _pool(reference, observed)
    if reference.size < 2 or reference.sum() == 0 or observed.sum() == 0:
        return 0.0, 1.0
    chi2, p_value, _, _ = stats.chi2_contingency(np.vstack([reference, observed]),
                                                 correction=False)
    return float(chi2), float(p_value)


def _pool(reference: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells where the current rows are expected to hold fewer than ``MIN_EXPECTED`` values
    (by the reference's shares) merged into one; empty cells dropped."""
    keep = (reference + observed) > 0
    reference, observed = reference[keep], observed[keep]
    if reference.sum() == 0:
        return reference, observed
    sparse = reference / reference.sum() * observed.sum() < MIN_EXPECTED
    if sparse.sum() < 2:
        return reference, observed
    return (np.append(reference[~sparse], reference[sparse].sum()),
            np.append(observed[~sparse], observed[sparse].sum()))


def _distance(test: str, expected: np.ndarray, observed: np.ndarray) -> float:
    """Jensen-Shannon distance or PSI of two binned distributions (shares or counts)."""
    if expected.sum() == 0 or observed.sum() == 0:
        return 0.0
    reference, current = expected / expected.sum(), observed / observed.sum()
    if test == "jensenshannon":
        return float(distance.jensenshannon(reference, current))
    reference, current = np.maximum(reference, SHARE_FLOOR), np.maximum(current, SHARE_FLOOR)
    return float(np.sum(rel_entr(current, reference) + rel_entr(reference, current)))


def _present(profile: NumericProfile | CategoricalProfile) -> float:
    """How many reference values the profile's shares were counted from (at least 1)."""
    return max(float(profile.count), 1.0)


def _judge(column: str, kind: str, test: str, statistic: float, p_value: float | None,
           settings: DriftConfig) -> ColumnDrift:
    threshold = settings.thresholds[THRESHOLD_OF.get(test, test)]  # type: ignore[index]
    if test in P_VALUE_TESTS:
        assert p_value is not None
        p_value = 1.0 if np.isnan(p_value) else p_value
        drifted = p_value < threshold
    else:
        statistic = 0.0 if np.isnan(statistic) else statistic
        drifted = statistic >= threshold
    return ColumnDrift(column, kind, test, float(statistic), p_value, float(threshold),
                       bool(drifted))


def _all_missing(column: str, kind: str, reference_present: bool) -> ColumnDrift:
    """Every current value missing: drift when the reference had values (statistic: the
    current missing share)."""
    return ColumnDrift(column, kind, "missing", 1.0, None, 1.0, reference_present)
