"""A regression suite file (``sweeps/<name>.yaml``) as written; see engine.regress.suite."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from engine.config.schema.base import NonNegativeFloat, Positive, Section, Workers
from engine.errors import did_you_mean

TIMINGS = ("fit_seconds", "predict_ms")
STAGES = ("cv", "test")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _directory_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"{name!r} cannot name an experiment: use letters, digits, '_', '.' and "
                         "'-' (it names a directory)")
    return name


ExperimentName = Annotated[str, AfterValidator(_directory_name)]


class Tolerance(Section):
    """How far a guarded value may get worse; ``significance`` null: the suite's rule."""

    absolute: NonNegativeFloat = 0.0
    relative: NonNegativeFloat = 0.0
    significance: bool | None = None


Guards = dict[str, Tolerance | None]
"""Guards by key; null drops a guard the suite declares."""


def _check_guard_keys(guards: Guards) -> Guards:
    for key in guards:
        stage, _, metric = key.partition(".")
        if key not in TIMINGS and (stage not in STAGES or not metric):
            raise ValueError(
                f"{key!r} is not a guard: a guard is cv.<scorer>, test.<scorer> (primary for the "
                f"experiment's primary metric), {' or '.join(TIMINGS)}."
                f"{did_you_mean(key, [*TIMINGS, 'cv.primary', 'test.primary'])}")
    return guards


class Significance(Section):
    required: bool = True
    alpha: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05


class TimingRepeats(Section):
    fit_repeats: Positive = 3
    predict_repeats: Positive = 50


class ExperimentEntry(Section):
    overrides: list[str] = []
    guards: Guards = {}

    _guard_keys = field_validator("guards")(_check_guard_keys)


class SuiteFile(Section):
    """A suite file as written; ``jobs`` -1 is one per core."""

    name: str | None = None
    baseline: str | None = None
    jobs: Workers = -1
    overrides: list[str] = []
    significance: Significance = Significance()
    timing: TimingRepeats = TimingRepeats()
    guards: Guards = {}
    experiments: Annotated[dict[ExperimentName, list[str] | ExperimentEntry],
                           Field(min_length=1)]

    _guard_keys = field_validator("guards")(_check_guard_keys)
