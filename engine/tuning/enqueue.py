"""The search's first trials: each candidate model's configured defaults, then one cheap
configuration per family.

- Defaults first, so a tuned run is never worse in CV than the untuned model: for the single
  model, or for each family of ``tune.models`` in order, the value each searched parameter has
  in the config (or the class's default), clipped into the parameter's range and rounded to its
  step. A default the space cannot hold (``max_depth: null`` in an int range, a choice not
  listed) is left to the sampler.
- Then a low-cost start, as FLAML's cost-frugal search begins: the same defaults with each cost
  parameter (the rounds, trees, epochs or leaves of ``COST_PARAMS``) at the low end of its range,
  for a family whose space has one.

A study records that it was seeded (user attribute ``enqueued``), so a resumed study is not
seeded twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from engine.tuning.pipeline_space import FAMILY, PipelineSpace
from engine.tuning.space import Param

ENQUEUED_ATTR = "enqueued"
COST_PARAMS = ("n_estimators", "max_iter", "iterations", "num_boost_round", "max_epochs",
               "max_leaf_nodes", "num_leaves", "max_leaves")
"""Parameters a fit's cost grows with; a cheap start takes the low end of their range."""


def configured_defaults(pipeline: Any, families: Mapping[str, Any]) -> dict[str, Any]:
    """Each Pipeline key's configured value: the ``pipeline``'s (``model__max_iter``,
    ``features__...``), and each family estimator's as ``<family>.model__<name>``."""
    values = dict(pipeline.get_params(deep=True))
    for name, estimator in families.items():
        values.update({f"{name}.model__{key}": value
                       for key, value in estimator.get_params(deep=True).items()})
    return values


def starting_trials(space: PipelineSpace, defaults: Mapping[str, Any]
                    ) -> list[tuple[str, dict[str, Any]]]:
    """The trials to enqueue, each labelled ``defaults`` or ``cheap``: each family's defaults,
    then each family's cheap variant where it differs from every trial before it.

    ``defaults`` is :func:`configured_defaults`.
    """
    families: list[str | None] = [*space.families] or [None]
    firsts = [_family_params(space, defaults, family) for family in families]
    trials = [("defaults", params) for params in firsts]
    for params, family in zip(firsts, families, strict=True):
        cheap = _cheap(space, params, family)
        if all(cheap != other for _, other in trials):
            trials.append(("cheap", cheap))
    return trials


def enqueue_starting_trials(study: Any, space: PipelineSpace, defaults: Mapping[str, Any]
                            ) -> list[str]:
    """Enqueue :func:`starting_trials` once per study; returns their labels (none when the
    study was seeded before)."""
    if study.user_attrs.get(ENQUEUED_ATTR):
        return []
    trials = starting_trials(space, defaults)
    for label, params in trials:
        study.enqueue_trial(params, user_attrs={"start": label})
    study.set_user_attr(ENQUEUED_ATTR, True)
    return [label for label, _ in trials]


def _family_params(space: PipelineSpace, defaults: Mapping[str, Any],
                   family: str | None) -> dict[str, Any]:
    """The defaults of one family's parameters (and the features'), as Optuna names them."""
    params: dict[str, Any] = {} if family is None else {FAMILY: family}
    for param in space.params:
        if param.name == FAMILY or (family is not None and FAMILY in param.when
                                    and family not in param.when[FAMILY]):
            continue
        key = param.key if family is None or FAMILY not in param.when else \
            f"{family}.{param.key}"
        value = _fitted_into(param, defaults.get(key))
        if value is not None:
            params[param.name] = value
    return params


def _cheap(space: PipelineSpace, params: dict[str, Any], family: str | None) -> dict[str, Any]:
    """``params`` with each cost parameter of the family at the low end of its range."""
    cheap = dict(params)
    for param in space.params:
        if param.key.removeprefix("model__") in COST_PARAMS and param.low is not None and \
                (family is None or param.when.get(FAMILY) == (family,)):
            cheap[param.name] = int(param.low) if param.kind == "int" else param.low
    return cheap


def _fitted_into(param: Param, value: Any) -> Any:
    """``value`` as the parameter can take it: clipped to the range and on its step; None when
    it cannot (a missing or non-numeric default, a choice not listed)."""
    if param.kind == "categorical":
        return value if value in param.choices else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    assert param.low is not None and param.high is not None, param.name
    clipped = min(max(float(value), param.low), param.high)
    if param.step:
        clipped = min(param.low + round((clipped - param.low) / param.step) * param.step,
                      param.high)
    return round(clipped) if param.kind == "int" else clipped
