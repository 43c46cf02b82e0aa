"""The Optuna sampler and pruner a ``tune`` config names, with their options checked up front."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.config.schema.tune import MULTI_OBJECTIVE, PRUNERS, SAMPLERS, checked_options
from engine.data.validation import check_choice
from engine.errors import ConfigError

if TYPE_CHECKING:
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler

TUNE_METHODS = ("none", *SAMPLERS)


def check_method(method: Any) -> str:
    """``tune.method`` must be one of TUNE_METHODS."""
    return str(check_choice(method, TUNE_METHODS, key="tune.method", what="search method"))


def make_sampler(
    method: str,
    options: Mapping[str, Any] | None,
    *,
    seed: int,
    n_objectives: int = 1,
    grid: Mapping[str, list[Any]] | None = None,
) -> BaseSampler:
    """The sampler for ``tune.method`` with ``tune.sampler_options``, seeded with ``seed``.

    ``grid`` is the full grid of values per parameter, needed by ``method=grid`` only.
    """
    import optuna

    check_method(method)
    if method == "none":
        raise ConfigError("tune.method=none runs no search; pick tpe, random, ... to tune.")
    if n_objectives > 1 and method not in MULTI_OBJECTIVE:
        raise ConfigError(
            f"tune.method={method}: cannot search {n_objectives} objectives at once. "
            f"Use one of {', '.join(MULTI_OBJECTIVE)} (nsga2 is made for it)."
        )
    cls = getattr(optuna.samplers, SAMPLERS[method])
    options = checked_options(options, cls, "tune.sampler_options")
    if method == "grid":
        return cls(dict(grid or {}), seed=seed, **options)
    if method == "tpe":
        # Conditional spaces: sample the parameters that appear together as one group.
        options = {"multivariate": True, "group": True, **options}
    return cls(seed=seed, **options)


def make_pruner(name: Any, options: Mapping[str, Any] | None) -> BasePruner:
    """The pruner for ``tune.pruner`` with ``tune.pruner_options``."""
    import optuna

    name = check_choice(name or "none", PRUNERS, key="tune.pruner", what="pruner")
    cls = getattr(optuna.pruners, PRUNERS[name])
    return cls(**checked_options(options, cls, "tune.pruner_options"))

