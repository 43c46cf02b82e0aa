"""Guards against a baseline: tolerances, directions, significance of timings, suite merging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from engine.errors import ConfigError
from engine.regress.guards import check_experiment
from engine.regress.measurement import Measurement
from engine.regress.suite import Guard, SuiteExperiment, load_suite


def measured(fit: list[float], cv: list[float]) -> Measurement:
    return Measurement("exp", [], task="binary", primary="roc_auc", fingerprint="f",
                       split={"cv": {"n_splits": 5}}, seed=0, cv={"roc_auc": cv},
                       timing={"fit_seconds": fit})


def verdict(guard: Guard, now: Measurement, before: Measurement) -> str:
    [check] = check_experiment(SuiteExperiment("exp", (), (guard,)), now, before, alpha=0.05)
    return check.verdict


NOISE = np.random.default_rng(0).normal(1.0, 0.02, size=(2, 7))


@pytest.mark.parametrize(("scale", "expected"), [
    (1.0, "ok"),                 # the same machine's noise
    (3.0, "regressed"),          # three times slower
    (0.3, "improved"),
])
def test_timings_are_guarded_by_median_and_mann_whitney(scale: float, expected: str) -> None:
    guard = Guard("fit_seconds", relative=0.5)
    before = measured(list(NOISE[0]), [0.9] * 5)
    now = measured(list(NOISE[1] * scale), [0.9] * 5)
    assert verdict(guard, now, before) == expected


def test_one_slow_outlier_among_repeats_does_not_fail_the_build() -> None:
    before = measured([1.0, 1.01, 0.99, 1.0, 1.02], [0.9] * 5)
    now = measured([1.0, 9.0, 1.01, 0.98, 1.0], [0.9] * 5)  # a noisy neighbour, once
    assert verdict(Guard("fit_seconds", relative=0.5), now, before) == "ok"


def test_a_consistent_small_slowdown_beyond_tolerance_needs_significance() -> None:
    before = measured([1.0, 1.0, 1.0], [0.9] * 5)
    noisy = measured([1.3, 0.9, 1.4], [0.9] * 5)
    assert verdict(Guard("fit_seconds", relative=0.1), noisy, before) == "not significant"
    assert verdict(Guard("fit_seconds", relative=0.1, significance=False), noisy,
                   before) == "regressed"


def test_tolerance_is_the_larger_of_absolute_and_relative() -> None:
    assert Guard("cv.primary", absolute=0.01, relative=0.1).allowed(-50.0) == 5.0
    assert Guard("cv.primary", absolute=0.01, relative=0.001).allowed(0.9) == 0.01
    before, now = measured([1.0], [0.9] * 5), measured([1.0], [0.895] * 5)
    assert verdict(Guard("cv.primary", absolute=0.01), now, before) == "ok"
    assert verdict(Guard("cv.primary", absolute=0.001, significance=False), now,
                   before) == "regressed"


def test_experiment_guards_override_and_drop_the_suite_defaults(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({
        "guards": {"cv.primary": {"absolute": 0.01}, "fit_seconds": {"relative": 1.0}},
        "significance": {"required": False},
        "experiments": {
            "plain": ["dataset=iris"],
            "custom": {"overrides": ["dataset=wine"],
                       "guards": {"fit_seconds": None, "cv.primary": {"relative": 0.02},
                                  "test.accuracy": {"absolute": 0.05, "significance": True}}},
        },
    }, sort_keys=False))
    suite = load_suite(path)
    plain, custom = suite.experiments
    assert [g.key for g in plain.guards] == ["cv.primary", "fit_seconds"]
    assert custom.guards == (Guard("cv.primary", relative=0.02, significance=False),
                             Guard("test.accuracy", absolute=0.05, significance=True))
    assert suite.baseline == tmp_path / "baselines" / "suite.json"


def test_timing_significance_needs_enough_repeats_to_be_possible(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"timing": {"fit_repeats": 3},
                                    "guards": {"fit_seconds": {"relative": 1.0}},
                                    "experiments": {"iris": ["dataset=iris"]}}))
    with pytest.raises(ConfigError, match=r"timing.fit_repeats=3: fit_seconds requires "
                       r"significance.*smallest p-value is 0.1\). Use at least 4 repeats"):
        load_suite(path)
