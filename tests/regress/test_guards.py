"""Guards against a baseline: tolerances, directions, timings left out, suite merging."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.errors import ConfigError
from engine.regress.guards import check_experiment, left_out_timings
from engine.regress.measurement import Measurement
from engine.regress.suite import Guard, SuiteExperiment, load_suite


def measured(fit: list[float], cv: list[float]) -> Measurement:
    return Measurement("exp", [], task="binary", primary="roc_auc", fingerprint="f",
                       split={"cv": {"n_splits": 5}}, seed=0, cv={"roc_auc": cv},
                       timing={"fit_seconds": fit})


def verdict(guard: Guard, now: Measurement, before: Measurement) -> str:
    [check] = check_experiment(SuiteExperiment("exp", (), (guard,)), now, before, alpha=0.05)
    return check.verdict


def test_timings_against_a_recorded_baseline_are_left_out_with_a_note() -> None:
    before = measured([1.0] * 6, [0.9] * 5)
    now = measured([5.0] * 6, [0.9] * 5)  # five times slower: another machine, or a busy one
    experiment = SuiteExperiment("exp", (), (Guard("fit_seconds", relative=0.1),))
    assert check_experiment(experiment, now, before, alpha=0.05) == []
    [check] = left_out_timings(experiment, now)
    assert (check.verdict, check.now) == ("left out", 5.0)
    assert "only side by side (--against REF)" in check.note


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
    path.write_text(yaml.safe_dump({"timing": {"fit_repeats": 5},
                                    "guards": {"fit_seconds": {"relative": 1.0}},
                                    "experiments": {"iris": ["dataset=iris"]}}))
    with pytest.raises(ConfigError, match=r"timing.fit_repeats=5: fit_seconds requires "
                       r"significance, which a paired t-test of 5 repeats cannot give. Use at "
                       r"least 6 repeats"):
        load_suite(path)
