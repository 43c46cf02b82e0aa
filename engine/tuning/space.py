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

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError, did_you_mean, options_hint

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

TYPES = ("int", "float", "categorical")
KEYS = {
    "int": ("type", "low", "high", "step", "log", "when"),
    "float": ("type", "low", "high", "step", "log", "when"),
    "categorical": ("type", "choices", "when"),
}


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
    params = [_param(name, spec, prefix, section) for name, spec in (space or {}).items()]
    _check_conditions(params, section)
    return params


def _param(name: str, spec: Any, prefix: str, section: str) -> Param:
    where = f"{section}.{name}"
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{where}: expected a mapping such as {{type: float, low: 0.01, high: 1.0}}, "
            f"got {spec!r}."
        )
    kind = spec.get("type")
    if kind not in TYPES:
        raise ConfigError(
            f"{where}.type: unknown parameter type {kind!r}."
            f"{did_you_mean(str(kind), TYPES)} {options_hint(TYPES)}"
        )
    for key in spec:
        if key not in KEYS[kind]:
            raise ConfigError(
                f"{where}.{key}: not a key of a {kind} parameter.{did_you_mean(key, KEYS[kind])} "
                f"{options_hint(KEYS[kind])}"
            )
    when = _when(spec.get("when"), where)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list | tuple) or not choices:
            raise ConfigError(f"{where}.choices: expected a non-empty list, got {choices!r}.")
        return Param(name, prefix + name, kind, choices=tuple(choices), when=when, where=where)
    low, high = (_number(spec.get(key), f"{where}.{key}", kind, key) for key in ("low", "high"))
    step = spec.get("step")
    step = None if step is None else _number(step, f"{where}.step", kind, "step")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}.log: must be true or false, got {log!r}.")
    _check_range(where, low, high, step, log)
    return Param(name, prefix + name, kind, low=low, high=high, step=step, log=log, when=when,
                 where=where)


def _number(value: Any, where: str, kind: str, key: str) -> float:
    if value is None:
        raise ConfigError(f"{where}: a {kind} parameter needs `{key}`.")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, got {value!r}.")
    if kind == "int" and value != int(value):
        raise ConfigError(f"{where}: an int parameter needs a whole number, got {value!r}.")
    return value


def _check_range(where: str, low: float, high: float, step: float | None, log: bool) -> None:
    if low > high:
        raise ConfigError(
            f"{where}: `low <= high` must hold, but got (low={low}, high={high}). Swap them."
        )
    if log and low <= 0:
        raise ConfigError(
            f"{where}: a log-scale range needs low > 0, but got low={low}. Use a small positive "
            "low (e.g. 1.0e-6) or drop `log: true`."
        )
    if step is not None and step <= 0:
        raise ConfigError(f"{where}.step: must be positive, got {step}.")
    if step is not None and log and step != 1:
        raise ConfigError(f"{where}: `step` and `log: true` cannot be combined; drop one.")


def _when(when: Any, where: str) -> dict[str, tuple[Any, ...]]:
    if when is None:
        return {}
    if not isinstance(when, Mapping) or not when:
        raise ConfigError(
            f"{where}.when: expected a mapping of parent parameter to value(s), such as "
            f"{{kernel: [rbf, poly]}}, got {when!r}."
        )
    return {parent: tuple(v) if isinstance(v, list | tuple) else (v,) for parent, v in
            when.items()}


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
