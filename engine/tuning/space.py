"""Search spaces declared in YAML, as Optuna distributions with optional conditions.

A model config's ``search_space`` (and a features config's) maps a parameter to its range::

    C:      {type: float, low: 1.0e-3, high: 1000.0, log: true}
    kernel: {type: categorical, choices: [rbf, linear, poly]}
    gamma:  {type: float, low: 1.0e-5, high: 1.0, log: true, when: {kernel: [rbf, poly]}}
    degree: {type: int, low: 2, high: 5, when: {kernel: poly}}
    max_depth: {type: int, low: 2, high: 32, step: 2}

``when`` makes a parameter active only for some values of a categorical parent in the same space.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from engine.config.schema import parse_section
from engine.config.schema.base import Integer, Section
from engine.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

Finite = Annotated[float, Field(allow_inf_nan=False)]
When = Annotated[dict[str, Any], Field(min_length=1)]


class FloatRange(Section):
    """``{type: float, low: 1.0e-3, high: 10.0, log: true}``: a range of real numbers."""

    type: Literal["float"]
    low: Finite
    high: Finite
    step: Annotated[Finite, Field(gt=0)] | None = None
    """Draw only low, low + step, ...; grid search needs it."""
    log: bool = False
    """Draw on a log scale (needs low > 0)."""
    when: When | None = None
    """Active only for some values of an earlier categorical, e.g. {kernel: [rbf, poly]}."""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        """The rules between keys, as Optuna states them for its distributions."""
        if self.low > self.high:
            raise ValueError(f"`low <= high` must hold, but got (low={self.low}, "
                             f"high={self.high}). Swap them.")
        if self.log and self.low <= 0:
            raise ValueError(f"a log-scale range needs low > 0, but got low={self.low}. Use a "
                             "small positive low (e.g. 1.0e-6) or drop `log: true`.")
        if self.log and self.step not in (None, 1):
            raise ValueError("`step` and `log: true` cannot be combined; drop one.")
        return self


class IntRange(FloatRange):
    """``{type: int, low: 2, high: 32, step: 2}``: a range of whole numbers."""

    type: Literal["int"]  # type: ignore[assignment]
    low: Integer
    high: Integer
    step: Annotated[Integer, Field(gt=0)] | None = None


class Categorical(Section):
    """``{type: categorical, choices: [rbf, linear, poly]}``: one of the listed values."""

    type: Literal["categorical"]
    choices: Annotated[list[Any], Field(min_length=1)]
    when: When | None = None


class _Space(Section):
    """One ``search_space``: each parameter's model chosen by its ``type``."""

    search_space: dict[str, Annotated[FloatRange | IntRange | Categorical,
                                      Field(discriminator="type")]]


@dataclass(frozen=True)
class Param:
    """One searchable parameter: its Optuna name, pipeline key, range and activation rule."""

    name: str
    key: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    when: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    where: str = ""

    def suggest(self, trial: BaseTrial) -> Any:
        """Draw this parameter's value from ``trial``."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, self.choices)
        low, high = self._bounds()
        if self.kind == "int":
            return trial.suggest_int(self.name, int(low), int(high),
                                     step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.name, low, high, step=self.step, log=self.log)

    def active(self, drawn: Mapping[str, Any]) -> bool:
        """Whether every parent this parameter depends on took one of the listed values."""
        return all(parent in drawn and drawn[parent] in values
                   for parent, values in self.when.items())

    def grid(self) -> list[Any]:
        """Every value a grid search tries: the choices, or the stepped range."""
        if self.kind == "categorical":
            return list(self.choices)
        low, high = self._bounds()
        if self.kind == "int":
            return list(range(int(low), int(high) + 1, int(self.step or 1)))
        if self.step is None:
            raise ConfigError(
                f"{self.where}: tune.method=grid needs a `step` for the float parameter "
                f"'{self.name}' (e.g. step: 0.1), or use tune.method=tpe."
            )
        count = round((high - low) / self.step)
        return [low + i * self.step for i in range(count + 1)]

    def _bounds(self) -> tuple[float, float]:
        """``(low, high)`` of an int or float parameter, which ``_param`` always sets."""
        assert self.low is not None and self.high is not None, self.kind
        return self.low, self.high


def parse_space(space: Mapping[str, Any] | None, *, prefix: str, section: str) -> list[Param]:
    """Parse one ``search_space`` mapping; pipeline keys get ``prefix`` (``model__``).

    ``section`` names the config key in messages (``model.search_space``).
    """
    parsed = parse_section(_Space, {"search_space": space or {}},
                           section.removesuffix("search_space"))
    params = [_param(name, spec, prefix + name, f"{section}.{name}")
              for name, spec in parsed.search_space.items()]
    _check_conditions(params, section)
    return params


def _param(name: str, spec: FloatRange | Categorical, key: str, where: str) -> Param:
    """The checked entry as the Param a study draws, ``when``'s single values as 1-tuples."""
    when = {parent: tuple(v) if isinstance(v, list) else (v,)
            for parent, v in (spec.when or {}).items()}
    if isinstance(spec, Categorical):
        return Param(name, key, spec.type, choices=tuple(spec.choices), when=when, where=where)
    return Param(name, key, spec.type, low=spec.low, high=spec.high, step=spec.step,
                 log=spec.log, when=when, where=where)


def _check_conditions(params: list[Param], section: str) -> None:
    """Each ``when`` parent is an earlier categorical of the same space with those values."""
    seen: dict[str, Param] = {}
    for param in params:
        for parent, values in param.when.items():
            owner = seen.get(parent)
            where = f"{section}.{param.name}.when.{parent}"
            if owner is None:
                names = [p.name for p in params if p.kind == "categorical"]
                raise ConfigError(
                    f"{where}: '{parent}' is not a categorical parameter declared before "
                    f"'{param.name}'.{did_you_mean(parent, names)} Declare the parent first, "
                    "with type: categorical."
                )
            if owner.kind != "categorical":
                raise ConfigError(f"{where}: '{parent}' must be a categorical parameter.")
            unknown = [v for v in values if v not in owner.choices]
            if unknown:
                raise ConfigError(
                    f"{where}: {unknown[0]!r} is not one of {parent}'s choices "
                    f"{list(owner.choices)}."
                )
        seen[param.name] = param
