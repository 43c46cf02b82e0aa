"""The ``tune`` checks that need the run's resolved scorers (the rest is the config schema)."""

from __future__ import annotations

from engine.config.schema.tune import COST_OBJECTIVES, Pick
from engine.errors import ConfigError, did_you_mean, options_hint


def check_pick(pick: Pick, objectives: tuple[str, ...]) -> None:
    """``tune.pick.objective`` must be one of the run's objectives (``auto`` resolved)."""
    if pick.objective is not None and pick.objective not in objectives:
        raise ConfigError(
            f"tune.pick.objective: {pick.objective!r} is not one of this run's objectives "
            f"{list(objectives)}.{did_you_mean(pick.objective, objectives)}"
        )


def check_objective_names(objectives: tuple[str, ...], scorers: tuple[str, ...]) -> None:
    """Objectives are the run's scorer names or a cost (fit_time, model_size)."""
    valid = (*scorers, *COST_OBJECTIVES)
    for name in objectives:
        if name not in valid:
            raise ConfigError(
                f"tune.objectives: {name!r} is neither one of this run's metrics nor a cost."
                f"{did_you_mean(name, valid)} {options_hint(valid)}"
            )
