"""A regression suite as declared in ``sweeps/<name>.yaml``, checked before anything runs.

Example (``sweeps/ci.yaml`` is the full one)::

    guards:                                 # every experiment's, unless it says otherwise
      cv.primary: {absolute: 0.01}          # the CV mean of the primary metric may drop 0.01
      test.accuracy: {absolute: 0.02}
      fit_seconds: {relative: 1.0}          # the median fit may take up to twice as long
    significance: {required: true, alpha: 0.05}
    experiments:
      iris_rf: [dataset=iris, model=random_forest]
      wine_svm:
        overrides: [dataset=wine, model=svm]
        guards: {test.accuracy: null}       # null drops a guard for this experiment
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.config.checks import check_flag, check_keys, check_mapping
from engine.errors import ConfigError, did_you_mean

SUITE_KEYS = ("name", "baseline", "jobs", "overrides", "significance", "timing", "guards",
              "experiments")
TIMINGS = ("fit_seconds", "predict_ms")
STAGES = ("cv", "test")
TOLERANCE_KEYS = ("absolute", "relative", "significance")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Guard:
    """A guarded value and how far it may get worse before the build fails.

    ``key`` is ``cv.<scorer>`` (the CV mean), ``test.<scorer>`` (the held-out score; ``primary``
    stands for the experiment's primary metric), ``fit_seconds`` or ``predict_ms`` (medians).
    The allowed change is the larger of ``absolute`` and ``relative`` times the baseline.
    """

    key: str
    absolute: float = 0.0
    relative: float = 0.0
    significance: bool = True

    @property
    def is_timing(self) -> bool:
        return self.key in TIMINGS

    def allowed(self, baseline: float) -> float:
        return max(self.absolute, self.relative * abs(baseline))


@dataclass(frozen=True)
class SuiteExperiment:
    """One experiment: its config overrides and the guards that apply to it."""

    name: str
    overrides: tuple[str, ...]
    guards: tuple[Guard, ...]


@dataclass(frozen=True)
class Suite:
    """A checked suite; ``experiments`` keep the file's order."""

    name: str
    path: Path
    baseline: Path
    jobs: int
    alpha: float
    fit_repeats: int
    predict_repeats: int
    experiments: tuple[SuiteExperiment, ...]


def load_suite(path: Path, extra_overrides: tuple[str, ...] = ()) -> Suite:
    """Read and check a suite file; every mistake is a ConfigError naming the entry.

    ``extra_overrides`` follow each experiment's own (``regress --set``), to try a change on
    the whole suite.
    """
    if not path.is_file():
        near = sorted(str(p) for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        raise ConfigError(f"regress: no suite file '{path}'.{did_you_mean(str(path), near)}"
                          + (f" Suites there: {', '.join(near)}." if near else ""))
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    where = str(path)
    suite = check_mapping(raw, where, "{experiments: {name: [overrides]}}")
    check_keys(suite, SUITE_KEYS, f"{where}: ")
    significance = check_mapping(suite.get("significance"), f"{where}: significance",
                                 "{required: true, alpha: 0.05}")
    check_keys(significance, ("required", "alpha"), f"{where}: significance.")
    required = check_flag(significance.get("required", True), f"{where}: significance.required")
    alpha = _number(significance.get("alpha", 0.05), f"{where}: significance.alpha")
    if not 0 < alpha < 1:
        raise ConfigError(f"{where}: significance.alpha must lie between 0 and 1; got {alpha}.")
    timing = check_mapping(suite.get("timing"), f"{where}: timing",
                           "{fit_repeats: 3, predict_repeats: 50}")
    check_keys(timing, ("fit_repeats", "predict_repeats"), f"{where}: timing.")
    defaults = _guards(suite.get("guards"), f"{where}: guards", required, {})
    shared = _overrides(suite.get("overrides"), f"{where}: overrides")
    experiments = check_mapping(suite.get("experiments"), f"{where}: experiments",
                                "{iris_rf: [dataset=iris, model=random_forest]}")
    if not experiments:
        raise ConfigError(f"{where}: experiments is empty; name at least one, e.g. "
                          "experiments: {iris_rf: [dataset=iris, model=random_forest]}.")
    name = str(suite.get("name") or path.stem)
    baseline = suite.get("baseline") or f"baselines/{name}.json"
    loaded = Suite(
        name=name,
        path=path,
        baseline=path.parent / str(baseline),
        jobs=_jobs(suite.get("jobs", -1), f"{where}: jobs"),
        alpha=alpha,
        fit_repeats=_positive(timing.get("fit_repeats", 3), f"{where}: timing.fit_repeats"),
        predict_repeats=_positive(timing.get("predict_repeats", 50),
                                  f"{where}: timing.predict_repeats"),
        experiments=tuple(_experiment(key, value, f"{where}: experiments.{key}", shared,
                                      defaults, required, extra_overrides)
                          for key, value in experiments.items()),
    )
    _check_timing_power(loaded, where)
    return loaded


def _check_timing_power(suite: Suite, where: str) -> None:
    """A timing guard that requires significance needs enough repeats for Mann-Whitney's
    smallest two-sided p-value, ``2 / C(2n, n)``, to fall below alpha."""
    repeats = {"fit_seconds": ("fit_repeats", suite.fit_repeats),
               "predict_ms": ("predict_repeats", suite.predict_repeats)}
    for experiment in suite.experiments:
        for guard in experiment.guards:
            if not (guard.is_timing and guard.significance):
                continue
            key, count = repeats[guard.key]
            smallest = 2 / math.comb(2 * count, count)
            if smallest >= suite.alpha:
                raise ConfigError(
                    f"{where}: timing.{key}={count}: {guard.key} requires significance, and "
                    f"with {count} repeats no change can be significant at alpha "
                    f"{suite.alpha} (the smallest p-value is {smallest:.3g}). Use at least "
                    f"{_repeats_for(suite.alpha)} repeats, or {guard.key}: {{significance: "
                    "false}.")


def _repeats_for(alpha: float) -> int:
    count = 2
    while 2 / math.comb(2 * count, count) >= alpha:
        count += 1
    return count


def _experiment(name: Any, value: Any, where: str, shared: tuple[str, ...],
                defaults: dict[str, Guard], required: bool,
                extra: tuple[str, ...]) -> SuiteExperiment:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"{where}: an experiment name is letters, digits, '_', '.' and '-' "
                          f"(it names a directory); got {name!r}.")
    if isinstance(value, Mapping):
        check_keys(value, ("overrides", "guards"), f"{where}.")
        overrides, guards = value.get("overrides"), value.get("guards")
    else:
        overrides, guards = value, None
    merged = _guards(guards, f"{where}.guards", required, defaults)
    if not merged:
        raise ConfigError(f"{where}: guards nothing; give it (or the suite) a guard such as "
                          "cv.primary: {absolute: 0.01}.")
    return SuiteExperiment(name, (*shared, *_overrides(overrides, f"{where}.overrides"), *extra),
                           tuple(merged.values()))


def _overrides(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list) or \
            not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: expected a list of overrides such as "
                          f"[dataset=iris, model=random_forest]; got {value!r}.")
    return tuple(value)


def _guards(value: Any, where: str, required: bool, base: dict[str, Guard]) -> dict[str, Guard]:
    """``base`` updated with the guards declared in ``value`` (null removes one)."""
    guards = dict(base)
    for key, tolerance in check_mapping(value, where, "{cv.primary: {absolute: 0.01}}").items():
        key = str(key)
        stage, _, metric = key.partition(".")
        if key not in TIMINGS and (stage not in STAGES or not metric):
            raise ConfigError(
                f"{where}.{key}: a guard is cv.<scorer>, test.<scorer> (primary for the "
                f"experiment's primary metric), {' or '.join(TIMINGS)}."
                f"{did_you_mean(key, [*TIMINGS, 'cv.primary', 'test.primary'])}")
        if tolerance is None:
            guards.pop(key, None)
            continue
        tolerance = check_mapping(tolerance, f"{where}.{key}", "{absolute: 0.01}")
        check_keys(tolerance, TOLERANCE_KEYS, f"{where}.{key}.")
        guards[key] = Guard(
            key,
            absolute=_non_negative(tolerance.get("absolute", 0.0), f"{where}.{key}.absolute"),
            relative=_non_negative(tolerance.get("relative", 0.0), f"{where}.{key}.relative"),
            significance=check_flag(tolerance.get("significance", required),
                                    f"{where}.{key}.significance"),
        )
    return guards


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ConfigError(f"{where}: expected a number; got {value!r}.")
    return float(value)


def _non_negative(value: Any, where: str) -> float:
    number = _number(value, where)
    if number < 0:
        raise ConfigError(f"{where}: a tolerance cannot be negative; got {value!r}.")
    return number


def _positive(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: expected a whole number of at least 1; got {value!r}.")
    return value


def _jobs(value: Any, where: str) -> int:
    """Worker processes; -1 means one per core."""
    if value == -1:
        return os.cpu_count() or 1
    return _positive(value, where)
