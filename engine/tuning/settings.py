"""The ``tune`` config group as checked, typed settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.config.checks import check_flag, check_keys, check_mapping
from engine.data.validation import check_choice
from engine.errors import ConfigError, did_you_mean, options_hint
from engine.tuning.objective import COST_OBJECTIVES
from engine.tuning.reporting import PRUNE_ON
from engine.tuning.samplers import PRUNERS, check_method
from engine.tuning.storage import check_study_name

KEYS = (
    "method", "n_trials", "timeout", "n_jobs", "study_name", "storage", "pruner",
    "pruner_options", "sampler_options", "prune_on", "objectives", "pick",
    "max_failure_fraction", "models", "plots", "studies_dir",
)


@dataclass(frozen=True)
class TuneSettings:
    """What to search with, for how long, where the study lives and what to optimise."""

    method: str = "none"
    n_trials: int | None = None
    timeout: float | None = None
    n_jobs: int = 1
    study_name: str | None = None
    storage: str | None = None
    pruner: str = "none"
    pruner_options: dict[str, Any] = field(default_factory=dict)
    sampler_options: dict[str, Any] = field(default_factory=dict)
    prune_on: str = "auto"
    objectives: tuple[str, ...] = ()
    pick: dict[str, Any] = field(default_factory=dict)
    max_failure_fraction: float = 0.5
    models: tuple[str, ...] = ()
    plots: bool = True
    studies_dir: str = "outputs/studies"

    @property
    def searching(self) -> bool:
        return self.method != "none"


def tune_settings(tune: Mapping[str, Any]) -> TuneSettings:
    """Check every ``tune.*`` key and value that needs no data."""
    check_keys(tune, KEYS, "tune.")
    method = check_method(tune.get("method", "none"))
    settings = TuneSettings(
        method=method,
        n_trials=_positive(tune.get("n_trials"), "n_trials", int),
        timeout=_positive(tune.get("timeout"), "timeout", float),
        n_jobs=_positive(tune.get("n_jobs", 1), "n_jobs", int) or 1,
        study_name=None if tune.get("study_name") is None else check_study_name(
            tune["study_name"]),
        storage=tune.get("storage"),
        pruner=check_choice(tune.get("pruner") or "none", PRUNERS, key="tune.pruner"),
        pruner_options=check_mapping(tune.get("pruner_options"), "tune.pruner_options",
                                "{n_startup_trials: 5}"),
        sampler_options=check_mapping(tune.get("sampler_options"), "tune.sampler_options",
                                 "{n_startup_trials: 10}"),
        prune_on=check_choice(tune.get("prune_on", "auto"), PRUNE_ON, key="tune.prune_on"),
        objectives=_names(tune.get("objectives"), "objectives", "[auto, fit_time]"),
        pick=check_mapping(tune.get("pick"), "tune.pick",
                           "{objective: fit_time, within: 0.005}"),
        max_failure_fraction=_fraction(tune.get("max_failure_fraction", 0.5)),
        models=_names(tune.get("models"), "models", "[logistic_regression, hist_gbm]"),
        plots=check_flag(tune.get("plots", True), "tune.plots"),
        studies_dir=str(tune.get("studies_dir") or "outputs/studies"),
    )
    if settings.searching and settings.n_trials is None and settings.timeout is None:
        raise ConfigError(
            "tune: give a budget: tune.n_trials=<count>, tune.timeout=<seconds>, or both."
        )
    _check_objectives(settings)
    return settings


def _check_objectives(settings: TuneSettings) -> None:
    if len(settings.objectives) > 1 and settings.pruner != "none":
        raise ConfigError(
            f"tune.pruner={settings.pruner}: Optuna cannot prune a search over several "
            "objectives; set tune.pruner=none."
        )
    pick = settings.pick
    unknown = set(pick) - {"objective", "within"}
    if unknown:
        raise ConfigError(
            f"tune.pick.{sorted(unknown)[0]}: unknown key. tune.pick takes `objective` (the one "
            "to optimise among the Pareto trials) and `within` (how far from the best first "
            "objective they may be)."
        )
    within = pick.get("within", 0.0)
    if isinstance(within, bool) or not isinstance(within, int | float) or within < 0:
        raise ConfigError(
            f"tune.pick.within: must be a number of at least 0 (how far below the best first "
            f"objective a picked trial may be), got {within!r}."
        )


def check_pick(pick: Mapping[str, Any], objectives: tuple[str, ...]) -> None:
    """``tune.pick.objective`` must be one of the run's objectives (``auto`` resolved)."""
    if "objective" in pick and pick["objective"] not in objectives:
        raise ConfigError(
            f"tune.pick.objective: {pick['objective']!r} is not one of this run's objectives "
            f"{list(objectives)}."
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


def _positive(value: Any, key: str, kind: type) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or (
        kind is int and value != int(value)
    ):
        example = "50" if kind is int else "120"
        raise ConfigError(
            f"tune.{key}: must be a positive {'whole ' if kind is int else ''}number or null, "
            f"got {value!r}. Example: tune.{key}={example}."
        )
    return kind(value)


def _names(value: Any, key: str, example: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"tune.{key}: expected a list of names, got {value!r}. Example: "
                          f"'tune.{key}={example}'.")
    return tuple(value)


def _fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(
            f"tune.max_failure_fraction: must be a number from 0 to 1, got {value!r}. "
            "Example: tune.max_failure_fraction=0.5 stops the study when half its trials fail."
        )
    return float(value)
