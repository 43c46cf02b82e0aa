"""Hydra's sweep overrides as Optuna search dimensions, for the Optuna sweeper and its preflight.

- ``a=x,y`` or ``a=choice(x,y)``, config groups included (``dataset=iris,wine``): categorical.
- ``a=range(lo,hi[,step])``: ints (floats, for a float bound or step) from ``lo`` to the last value
  Hydra's end-exclusive range reaches: ``range(1,5)`` searches 1..4, ``range(0,10,3)`` 0, 3, 6, 9.
- ``a=interval(lo,hi)``: a float in [lo, hi]; ``a=int(interval(lo,hi))``: an int in [lo, hi].
- ``tag(log, ...)`` on a range (step 1) or an interval: sampled on a log scale.
- ``a=value``: the same in every trial.

Optuna is imported only when a distribution is made, so the preflight stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NoReturn

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    Override,
    QuotedString,
    RangeSweep,
    Sweep,
    Transformer,
)

from engine.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

Choice = str | int | float | bool | None
TAGS = ("log",)


@dataclass(frozen=True)
class Categorical:
    """One of ``choices``; ``texts`` are their override values, in the same order."""

    name: str
    choices: tuple[Choice, ...]
    texts: tuple[str, ...]

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import CategoricalDistribution

        return CategoricalDistribution(self.choices)

    def override(self, value: Choice) -> str:
        """``name=text`` for a sampled choice (``True`` and ``1`` stay apart)."""
        index = next(i for i, c in enumerate(self.choices) if type(c) is type(value) and c == value)
        return f"{self.name}={self.texts[index]}"

    def probe_overrides(self) -> list[str]:
        """Every choice: what the sweep preflight composes."""
        return [f"{self.name}={text}" for text in self.texts]


@dataclass(frozen=True)
class Numeric:
    """An int or float from ``low`` to ``high`` (both included), on a grid of ``step`` if set."""

    name: str
    low: int | float
    high: int | float
    integer: bool
    step: int | float | None = None
    log: bool = False

    def distribution(self) -> BaseDistribution:
        from optuna.distributions import FloatDistribution, IntDistribution

        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log,
                                   step=int(self.step or 1))
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def override(self, value: int | float) -> str:
        return f"{self.name}={value}"

    def probe_overrides(self) -> list[str]:
        """The low and high ends: what the sweep preflight composes."""
        return [self.override(self.low), self.override(self.high)]


Dimension = Categorical | Numeric


@dataclass(frozen=True)
class SweepSpace:
    """The swept dimensions and the overrides every trial shares."""

    dimensions: tuple[Dimension, ...]
    fixed: tuple[str, ...]

    def distributions(self) -> dict[str, BaseDistribution]:
        return {d.name: d.distribution() for d in self.dimensions}

    def trial_overrides(self, params: Mapping[str, Any]) -> list[str]:
        """One job's overrides for a trial's sampled ``params``."""
        return [*self.fixed, *(d.override(params[d.name]) for d in self.dimensions)]

    def probe_jobs(self) -> list[list[str]]:
        """Jobs that compose every choice and both ends of every range once (not their product).

        The first job takes each dimension's first probe; each other job changes one of them.
        """
        probes = [d.probe_overrides() for d in self.dimensions]
        first = [options[0] for options in probes]
        jobs = [[*self.fixed, *first]]
        for index, options in enumerate(probes):
            for probe in options[1:]:
                jobs.append([*self.fixed, *first[:index], probe, *first[index + 1 :]])
        return jobs


def params_overrides(params: Mapping[str, Any] | None) -> list[str]:
    """The sweeper config's ``params`` mapping (``{model.C: 'interval(0.1,10)'}``) as overrides."""
    return [f"{key}={value}" for key, value in (params or {}).items()]


def parse_sweep(overrides: Sequence[str]) -> SweepSpace:
    """The search space of ``overrides``; a later override of the same key wins."""
    dimensions: dict[str, Dimension] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.get_key_element()
        dimensions.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            dimensions[key] = dimension_of(override)
        else:
            fixed[key] = str(override.input_line)
    return SweepSpace(tuple(dimensions.values()), tuple(fixed.values()))


def dimension_of(override: Override) -> Dimension:
    """The search dimension one sweep override means; a bad one is a ConfigError naming it."""
    value = override.value()
    if not isinstance(value, Sweep):  # glob(...): Hydra lists its choices from the config loader
        _refuse(override, "the Optuna sweeper cannot expand glob(...); list the choices instead, "
                "e.g. model=a,b")
    for tag in sorted(value.tags):
        if tag not in TAGS:
            _refuse(override, f"unknown tag '{tag}'.{did_you_mean(tag, TAGS)} The Optuna "
                    "sweeper knows tag(log, ...), on a range or an interval")
    if isinstance(value, ChoiceSweep):
        if value.tags:
            _refuse(override, "a choice has no scale; tag(log, ...) goes on a range or interval")
        return _categorical(override.get_key_element(), value.list)
    if isinstance(value, RangeSweep):
        return _range(override, value)
    return _interval(override, value.start, value.end, log="log" in value.tags)


def _categorical(name: str, elements: list[Any]) -> Categorical:
    choices = [_choice_value(element) for element in elements]
    return Categorical(name, tuple(choices), tuple(Transformer.str(e) for e in elements))


def _choice_value(element: Any) -> Choice:
    """What Optuna records: the value itself, or the override text of a list or mapping."""
    if isinstance(element, QuotedString):
        return element.text
    if element is None or isinstance(element, str | int | float | bool):
        return element
    return Transformer.str(element)


def _range(override: Override, value: RangeSweep) -> Numeric:
    start, stop, step = value.start, value.stop, value.step
    assert start is not None and stop is not None  # the override parser sets both ends
    if step == 0:
        _refuse(override, "a range's step cannot be 0")
    integer = all(isinstance(v, int) for v in (start, stop, step))
    values = value.range()
    count = len(values) if isinstance(values, range) else sum(1 for _ in values)
    if count == 0:
        _refuse(override, f"range({start}, {stop}, {step}) holds no value: Hydra's range stops "
                "before its end and counts down only with a negative step; e.g. range(1, 5) "
                "searches 1, 2, 3, 4")
    if integer:
        low, high = sorted((start, start + (count - 1) * step))
    else:  # 0.1 + 6 * 0.1 is 0.7000000000000001; Optuna wants (high - low) / step whole
        last = Decimal(str(start)) + (count - 1) * Decimal(str(step))
        low, high = sorted((float(start), float(last)))
    if "log" not in value.tags:
        return Numeric(override.get_key_element(), low, high, integer=integer, step=abs(step))
    if not (integer and abs(step) == 1):
        _refuse(override, "a log scale takes no step; use tag(log, int(interval(lo, hi))) or "
                "tag(log, interval(lo, hi))")
    return _interval(override, low, high, log=True)


def _interval(override: Override, low: Any, high: Any, *, log: bool) -> Numeric:
    if low > high:
        _refuse(override, f"the low end {low} is above the high end {high}; swap them")
    if log and low <= 0:
        _refuse(override, f"a log scale needs a low end above 0, got {low}; e.g. "
                "tag(log, interval(1e-4, 1.0))")
    integer = isinstance(low, int) and isinstance(high, int)
    return Numeric(override.get_key_element(), low, high, integer=integer, log=log)


def _refuse(override: Override, reason: str) -> NoReturn:
    raise ConfigError(f"override '{override.input_line}': {reason}.")
