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

from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.config.hydra_errors import yaml_syntax_error
from engine.config.schema import parse_section
from engine.config.schema.suite import TIMINGS, ExperimentEntry, Guards, SuiteFile
from engine.errors import ConfigError, did_you_mean
from engine.threads import worker_processes

MIN_PAIRS = 6  # three samples of two pairs each


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
        raise yaml_syntax_error(error, path) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping such as "
                          f"{{experiments: {{name: [overrides]}}}}, got {raw!r}.")
    suite = parse_section(SuiteFile, raw, f"{path}: ")
    required = suite.significance.required
    defaults = _guards(suite.guards, required, {})
    name = suite.name or path.stem
    loaded = Suite(
        name=name,
        path=path,
        baseline=path.parent / (suite.baseline or f"baselines/{name}.json"),
        jobs=worker_processes(suite.jobs),
        alpha=suite.significance.alpha,
        fit_repeats=suite.timing.fit_repeats,
        predict_repeats=suite.timing.predict_repeats,
        experiments=tuple(_experiment(key, value, f"{path}: experiments.{key}",
                                      (*suite.overrides,), defaults, required, extra_overrides)
                          for key, value in suite.experiments.items()),
    )
    _check_timing_power(loaded, str(path))
    return loaded


def _check_timing_power(suite: Suite, where: str) -> None:
    """A timing guard that requires significance is judged by a t-test of the log ratios of
    consecutive pairs of repeats (``--against``, see ``paired_timing.py``), which needs at least
    ``MIN_PAIRS`` repeats to say anything."""
    repeats = {"fit_seconds": ("fit_repeats", suite.fit_repeats),
               "predict_ms": ("predict_repeats", suite.predict_repeats)}
    for experiment in suite.experiments:
        for guard in experiment.guards:
            if not (guard.is_timing and guard.significance):
                continue
            key, count = repeats[guard.key]
            if count < MIN_PAIRS:
                raise ConfigError(
                    f"{where}: timing.{key}={count}: {guard.key} requires significance, which "
                    f"a paired t-test of {count} repeats cannot give. Use at least {MIN_PAIRS} "
                    f"repeats, or {guard.key}: {{significance: false}}.")


def _experiment(name: str, value: list[str] | ExperimentEntry, where: str,
                shared: tuple[str, ...], defaults: dict[str, Guard], required: bool,
                extra: tuple[str, ...]) -> SuiteExperiment:
    entry = value if isinstance(value, ExperimentEntry) else ExperimentEntry(overrides=value)
    merged = _guards(entry.guards, required, defaults)
    if not merged:
        raise ConfigError(f"{where}: guards nothing; give it (or the suite) a guard such as "
                          "cv.primary: {absolute: 0.01}.")
    return SuiteExperiment(name, (*shared, *entry.overrides, *extra), tuple(merged.values()))


def _guards(declared: Guards, required: bool, base: dict[str, Guard]) -> dict[str, Guard]:
    """``base`` updated with the ``declared`` guards (null removes one)."""
    guards = dict(base)
    for key, tolerance in declared.items():
        if tolerance is None:
            guards.pop(key, None)
            continue
        significance = required if tolerance.significance is None else tolerance.significance
        guards[key] = Guard(key, absolute=tolerance.absolute, relative=tolerance.relative,
                            significance=significance)
    return guards
