"""The Optuna sampler and pruner a ``tune`` config names, with their options checked up front."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from engine.config.schema.tune import PRUNERS, SAMPLERS, checked_options

if TYPE_CHECKING:
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler


def make_sampler(
    method: str,
    options: Mapping[str, Any] | None,
    *,
    seed: int,
    grid: Mapping[str, list[Any]] | None = None,
) -> BaseSampler:
    """The sampler for ``tune.method`` with ``tune.sampler_options``, seeded with ``seed``.

    ``grid`` is the full grid of values per parameter, needed by ``method=grid`` only. The
    schema (TuneConfig, or the sweeper's settings) has checked the method for the objectives.
    """
    import optuna

    cls = getattr(optuna.samplers, SAMPLERS[method])
    options = checked_options(options, cls, "tune.sampler_options")
    if method == "grid":
        return cls(dict(grid or {}), seed=seed, **options)
    if method == "tpe":
        # Conditional spaces: sample the parameters that appear together as one group.
        options = {"multivariate": True, "group": True, **options}
    return cls(seed=seed, **options)


def make_pruner(name: str, options: Mapping[str, Any] | None) -> BasePruner:
    """The pruner for ``tune.pruner`` (one of PRUNERS, as TuneConfig checked) with
    ``tune.pruner_options``."""
    import optuna

    cls = getattr(optuna.pruners, PRUNERS[name])
    return cls(**checked_options(options, cls, "tune.pruner_options"))

