"""The ``tune`` checks that need the run's resolved scorers (the rest is the config schema)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.config.schema.tune import COST_OBJECTIVES
from engine.errors import ConfigError, did_you_mean, options_hint
from engine.evaluation.metrics import MetricSet, unanswered


def check_objective_names(objectives: tuple[str, ...], scorers: tuple[str, ...]) -> None:
    """Objectives are the run's scorer names or a cost (fit_time, model_size)."""
    valid = (*scorers, *COST_OBJECTIVES)
    for name in objectives:
        if name not in valid:
            raise ConfigError(
                f"tune.objectives: {name!r} is neither one of this run's metrics nor a cost."
                f"{did_you_mean(name, valid)} {options_hint(valid)}"
            )


def check_families_answer(metrics: MetricSet, objectives: tuple[str, ...],
                          models: Mapping[str, Any], *, objectives_key: str) -> list[str]:
    """Across model families (``models``: family name -> estimator), the primary scorer and
    the objectives must be answerable by every family, or the run is refused before any trial;
    the other scorers a family cannot answer (log loss for an SVC without probabilities) are
    left out of its scores: one warning per such family, returned.

    ``objectives_key`` names where the objectives came from, for the message.
    """
    needed = [n for n in dict.fromkeys((metrics.primary, *objectives)) if n not in COST_OBJECTIVES]
    gaps = {family: unanswered(metrics.scorers, model) for family, model in models.items()}
    notes = []
    for family, missing in gaps.items():
        cls = type(models[family]).__name__
        for name in (n for n in needed if n in missing):
            key = objectives_key if name in objectives else "metrics.primary"
            every = [n for n in metrics.scorers if all(n not in gap for gap in gaps.values())]
            raise ConfigError(
                f"{key}={name}: model family {family} in tune.models cannot be scored on it: "
                f"{name} needs {missing[name]}, which {cls} lacks. Choose an objective every "
                f"family answers{f' (e.g. {every[0]})' if every else ''}, or drop {family} "
                "from tune.models."
            )
        if missing:
            methods = " or ".join(dict.fromkeys(missing.values()))
            notes.append(f"metrics: model family {family} ({cls}) has no {methods}, so its "
                         f"trials and, should it win, its test scores leave out "
                         f"{', '.join(missing)}.")
    return notes
