"""Drift per column and the dataset's verdict, on real rows (adult.csv): injected drift is
flagged, clean rows are not, whichever test runs; unseen categories, missing values, the auto
switch and the profile-only fallback give a verdict, never a NaN."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from engine.config.schema.monitor import DriftConfig
from engine.monitoring.drift import (
    ColumnDrift,
    column_drift,
    dataset_drift,
    window_distance,
)
from engine.monitoring.profile_columns import column_profile
from engine.tracking.records import ColumnProfile, TextProfile
from tests.conftest import SHARED_DATA

ADULT = SHARED_DATA / "adult.csv"
DEFAULTS = DriftConfig()


def profile_of(values: pd.Series, *, text: bool = False) -> ColumnProfile:
    """The column's reference profile, as the bundle's is built (10 bins, 50 categories)."""
    return column_profile(values, text=text, bins=10, max_categories=50)


@pytest.fixture(scope="module")
def adult() -> pd.DataFrame:
    if not ADULT.is_file():
        pytest.skip(f"{ADULT} is not present")
    return pd.read_csv(ADULT)


@pytest.fixture(scope="module")
def halves(adult: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A reference of 5,000 rows and, disjoint from it, the rows current batches come from."""
    shuffled = adult.sample(frac=1.0, random_state=7).reset_index(drop=True)
    return shuffled.iloc[:5000], shuffled.iloc[5000:]


def drift_of(column: str, reference: pd.DataFrame, current: pd.Series,
             settings: DriftConfig = DEFAULTS, *, sample: bool = True) -> ColumnDrift:
    values = reference[column]
    return column_drift(column, profile_of(values), values if sample else None, current,
                        settings)


def with_share(rows: pd.DataFrame, column: str, category: str, share: float, size: int,
               seed: int) -> pd.DataFrame:
    """``size`` rows in which ``category`` holds ``share`` of ``column``."""
    rng = np.random.default_rng(seed)
    inside = rows.index[rows[column] == category]
    outside = rows.index[rows[column] != category]
    count = round(share * size)
    picked = np.concatenate([rng.choice(inside, count, replace=False),
                             rng.choice(outside, size - count, replace=False)])
    return rows.loc[picked]


def test_a_shift_of_half_a_standard_deviation_is_flagged_and_clean_rows_are_not(halves):
    reference, rest = halves
    batch = rest.sample(1000, random_state=1)
    clean = drift_of("age", reference, batch["age"])
    shifted = drift_of("age", reference, batch["age"] + 0.5 * reference["age"].std())
    assert (clean.test, clean.drifted) == ("ks", False)
    assert clean.p_value is not None and clean.p_value > 0.01
    assert (shifted.test, shifted.drifted) == ("ks", True)
    assert shifted.p_value is not None and shifted.p_value < 1e-10


def test_a_category_moved_by_ten_points_is_flagged_and_clean_rows_are_not(halves):
    reference, rest = halves
    share = (reference["relationship"] == "Husband").mean()
    clean = drift_of("relationship", reference, rest.sample(1000, random_state=2)["relationship"])
    moved = with_share(rest, "relationship", "Husband", share - 0.10, 1000, seed=3)
    result = drift_of("relationship", reference, moved["relationship"])
    assert (clean.test, clean.drifted) == ("chi2", False)
    assert (result.test, result.drifted) == ("chi2", True)


def test_a_binary_column_takes_the_two_proportion_z_test(halves):
    reference, rest = halves
    share = (reference["sex"] == "Male").mean()
    clean = drift_of("sex", reference, rest.sample(1000, random_state=4)["sex"])
    moved = drift_of("sex", reference,
                     with_share(rest, "sex", "Male", share + 0.10, 1000, seed=5)["sex"])
    assert (clean.test, clean.drifted) == ("z", False)
    assert (moved.test, moved.drifted) == ("z", True)
    assert moved.statistic > 3  # signed: the first profiled category (Male) grew
    # the z-test's p-value is the chi-square's of the same 2x2 table
    chi2 = drift_of("sex", reference, with_share(rest, "sex", "Male", share + 0.10, 1000,
                                                 seed=5)["sex"],
                    DriftConfig(categorical_test="chi2"))
    assert chi2.p_value == pytest.approx(moved.p_value)


@pytest.mark.parametrize(("test", "expected_test"), [
    ("ks", "ks"), ("wasserstein", "wasserstein"), ("psi", "psi"),
    ("jensenshannon", "jensenshannon")])
def test_every_numeric_test_flags_a_shift_and_passes_clean_rows(halves, test, expected_test):
    reference, rest = halves
    settings = DriftConfig(numeric_test=test)
    batch = rest.sample(3000, random_state=6)["hours-per-week"]
    clean = drift_of("hours-per-week", reference, batch, settings)
    shifted = drift_of("hours-per-week", reference,
                       batch + reference["hours-per-week"].std(), settings)
    assert (clean.test, clean.drifted, shifted.test, shifted.drifted) == (
        expected_test, False, expected_test, True)
    assert clean.threshold == DEFAULTS.thresholds[test]  # type: ignore[index]


@pytest.mark.parametrize("test", ["chi2", "jensenshannon", "psi"])
def test_every_categorical_test_flags_a_moved_category_and_passes_clean_rows(halves, test):
    reference, rest = halves
    settings = DriftConfig(categorical_test=test)
    share = (reference["relationship"] == "Husband").mean()
    clean = drift_of("relationship", reference,
                     rest.sample(3000, random_state=8)["relationship"], settings)
    moved = drift_of("relationship", reference,
                     with_share(rest, "relationship", "Husband", share + 0.25, 3000,
                                seed=9)["relationship"], settings)
    assert (clean.test, clean.drifted, moved.test, moved.drifted) == (test, False, test, True)


def test_a_z_test_asked_of_a_column_with_more_than_two_categories_runs_chi_square(halves):
    reference, rest = halves
    result = drift_of("race", reference, rest.sample(500, random_state=10)["race"],
                      DriftConfig(categorical_test="z"))
    assert result.test == "chi2"


def test_unseen_and_empty_categories_give_a_verdict_not_a_nan(halves):
    reference, rest = halves
    batch = rest.sample(1000, random_state=11)["workclass"].copy()
    batch.iloc[:150] = "Martian"  # a category the reference never saw
    unseen = drift_of("workclass", reference, batch)
    assert unseen.drifted and math.isfinite(unseen.statistic)
    # only one profiled category present: the others are empty, still no division by zero
    only = pd.Series(["Private"] * 1000)
    for test in ("chi2", "jensenshannon", "psi"):
        result = drift_of("workclass", reference, only, DriftConfig(categorical_test=test))
        assert result.drifted and math.isfinite(result.statistic)
        assert result.p_value is None or math.isfinite(result.p_value)
    # a handful of unseen values among 1,000 is not drift
    few = rest.sample(1000, random_state=12)["workclass"].copy()
    few.iloc[:2] = "Martian"
    assert not drift_of("workclass", reference, few).drifted


def test_missing_values_are_left_out_and_a_column_all_missing_drifts(halves):
    reference, rest = halves
    batch = rest.sample(1000, random_state=13)
    holes = batch["age"].astype(float).mask(np.arange(1000) % 2 == 0)
    assert not drift_of("age", reference, holes).drifted
    gone = drift_of("age", reference, pd.Series([np.nan] * 100))
    assert (gone.test, gone.drifted, gone.p_value) == ("missing", True, None)
    assert drift_of("workclass", reference, pd.Series([None] * 100, dtype=object)).drifted
    # workclass has missing values in the reference too: they are left out there as well
    assert reference["workclass"].isna().any()
    assert not drift_of("workclass", reference, batch["workclass"]).drifted


def test_auto_runs_p_value_tests_up_to_large_sample_rows_and_distances_above(halves):
    reference, rest = halves
    tests = {rows: (drift_of("age", reference, rest["age"].iloc[:rows]).test,
                    drift_of("relationship", reference, rest["relationship"].iloc[:rows]).test,
                    drift_of("sex", reference, rest["sex"].iloc[:rows]).test)
             for rows in (1000, 1001)}
    assert tests == {1000: ("ks", "chi2", "z"), 1001: ("wasserstein", "jensenshannon",
                                                       "jensenshannon")}
    # missing values do not count: 1,001 rows with one missing are a small sample
    holes = rest["age"].iloc[:1001].astype(float).copy()
    holes.iloc[0] = np.nan
    assert drift_of("age", reference, holes).test == "ks"
    bigger = DriftConfig(large_sample_rows=5000)
    assert drift_of("age", reference, rest["age"].iloc[:5000], bigger).test == "ks"


def test_without_a_reference_sample_numeric_tests_run_on_the_profiles_bins(halves):
    reference, rest = halves
    batch = rest.sample(1000, random_state=14)["age"]
    shift = 0.5 * reference["age"].std()
    small = [drift_of("age", reference, values, sample=False) for values in (batch,
                                                                             batch + shift)]
    assert [(r.test, r.drifted) for r in small] == [("chi2_bins", False), ("chi2_bins", True)]
    assert small[0].threshold == DEFAULTS.thresholds["chi2"]
    big = rest.sample(5000, random_state=15)["age"]
    large = [drift_of("age", reference, values, sample=False) for values in (big, big + shift)]
    assert [(r.test, r.drifted) for r in large] == [("wasserstein_bins", False),
                                                    ("wasserstein_bins", True)]


def test_a_text_column_is_compared_by_its_length():
    rng = np.random.default_rng(16)
    words = pd.Series(["x" * int(n) for n in rng.integers(5, 40, 3000)])
    profile = profile_of(words, text=True)
    assert isinstance(profile, TextProfile)
    same = pd.Series(["y" * int(n) for n in rng.integers(5, 40, 800)])
    longer = pd.Series(["y" * int(n) for n in rng.integers(20, 60, 800)])
    results = [column_drift("review", profile, words, rows, DEFAULTS) for rows in (same, longer)]
    assert [(r.kind, r.test, r.drifted) for r in results] == [("text", "ks", False),
                                                             ("text", "ks", True)]


def test_a_constant_reference_column_gives_finite_distances():
    values = pd.Series(np.full(2000, 3.0))
    profile = profile_of(values)
    for test in ("wasserstein", "psi", "jensenshannon", "ks"):
        settings = DriftConfig(numeric_test=test)
        same = column_drift("c", profile, values, pd.Series(np.full(500, 3.0)), settings)
        moved = column_drift("c", profile, values, pd.Series(np.full(500, 4.0)), settings)
        assert math.isfinite(same.statistic) and math.isfinite(moved.statistic)
        assert not same.drifted


def test_the_dataset_drifts_when_drift_share_of_its_columns_do():
    def result(drifted: bool) -> ColumnDrift:
        return ColumnDrift("c", "numeric", "ks", 0.1, 0.5, 0.01, drifted)

    half = [result(True), result(False)]
    assert dataset_drift(half, DriftConfig(drift_share=0.5))
    assert not dataset_drift(half, DriftConfig(drift_share=0.6))
    assert not dataset_drift([], DEFAULTS)


def test_the_window_distance_is_the_jensen_shannon_test_statistic(halves):
    reference, rest = halves
    profile = profile_of(reference["age"])
    batch = rest["age"].iloc[:2000]
    assert window_distance(profile, batch) == pytest.approx(
        drift_of("age", reference, batch, DriftConfig(numeric_test="jensenshannon")).statistic)
    assert window_distance(profile, batch) < window_distance(profile, batch + 10)
    assert window_distance(profile, pd.Series([], dtype=float)) == 0.0
    assert window_distance(profile_of(reference["sex"]), pd.Series(["Male"] * 50)) > 0.2


def test_a_threshold_left_out_keeps_its_default():
    settings = DriftConfig(thresholds={"ks": 0.05})
    assert settings.thresholds["ks"] == 0.05
    assert settings.thresholds["chi2"] == DEFAULTS.thresholds["chi2"]


def test_categories_read_back_as_numbers_match_the_profiles_text():
    rng = np.random.default_rng(17)
    profile = profile_of(pd.Series(rng.choice(["1", "2", "3"], 3000), dtype=object))
    as_floats = pd.Series(rng.choice([1.0, 2.0, 3.0], 800))
    as_ints = pd.Series(rng.choice([1, 2, 3], 800))
    for current in (as_floats, as_ints):
        assert not column_drift("grade", profile, None, current, DEFAULTS).drifted


@pytest.mark.parametrize("column", ["age", "fnlwgt", "education-num"])
def test_the_normed_wasserstein_distance_is_scipys_over_the_reference_std(halves, column):
    """Discrete columns are passed to scipy as weighted distinct values: the same distance."""
    from scipy import stats

    reference, rest = halves
    values = rest[column].iloc[:3000] + 1
    expected = stats.wasserstein_distance(reference[column], values) / reference[column].std(
        ddof=0)
    found = drift_of(column, reference, values, DriftConfig(numeric_test="wasserstein"))
    assert found.statistic == pytest.approx(expected, rel=1e-12)
