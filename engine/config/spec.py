"""The experiment as plain, typed values: what every stage reads instead of Hydra's config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.budget import Budget
from engine.config.schema import (
    CardConfig,
    DeployConfig,
    FeaturesConfig,
    MetricsConfig,
    MonitorConfig,
    QualityConfig,
    SplitConfig,
    TrackingConfig,
    TuneConfig,
    parse_experiment,
)
from engine.config.schema.dataset import DatasetConfig
from engine.errors import ConfigError

TASK_FAMILIES = ("classification", "regression")


@dataclass(frozen=True)
class ModelSpec:
    """A model config: estimator class per task family, its parameters and its search space."""

    name: str
    targets: dict[str, str]
    params: dict[str, Any]
    search_space: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentSpec:
    """One validated experiment; built from the composed config by :func:`spec_from_config`."""

    dataset: DatasetConfig
    features: FeaturesConfig
    split: SplitConfig
    model: ModelSpec
    metrics: MetricsConfig
    tune: TuneConfig
    deploy: DeployConfig
    monitor: MonitorConfig
    quality: QualityConfig
    seed: int
    n_jobs: int = 1
    allowed_targets: tuple[str, ...] = ()
    report: bool = True
    choices: dict[str, str] = field(default_factory=dict)
    candidates: dict[str, ModelSpec] = field(default_factory=dict)
    card: CardConfig = field(default_factory=CardConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    budget: Budget | None = None
    """``budget=<seconds>`` for the whole command; the run stamps when it began."""


def spec_from_config(
    config: Mapping[str, Any],
    choices: Mapping[str, str],
    candidates: Mapping[str, Mapping[str, Any]] | None = None,
) -> ExperimentSpec:
    """Validate a resolved config mapping (no Hydra objects) against the schema, once.

    ``candidates`` are the model configs ``tune.models`` names, for a search across families.
    """
    experiment = parse_experiment(config)
    return ExperimentSpec(
        dataset=experiment.dataset,
        features=experiment.features,
        split=experiment.split,
        model=model_spec(str(choices.get("model", "model")), experiment.model),
        metrics=experiment.metrics,
        tune=experiment.tune,
        deploy=experiment.deploy,
        monitor=experiment.monitor,
        quality=experiment.quality,
        seed=experiment.seed,
        n_jobs=experiment.n_jobs,
        allowed_targets=tuple(experiment.allowed_targets),
        report=experiment.report,
        card=experiment.card,
        tracking=experiment.tracking,
        budget=None if experiment.budget is None else Budget(experiment.budget),
        choices=dict(choices),
        candidates={name: model_spec(name, section)
                    for name, section in (candidates or {}).items()},
    )


def model_spec(name: str, section: Mapping[str, Any]) -> ModelSpec:
    """A model config section as a ModelSpec; ``_target_`` is one class or one per task."""
    model = dict(section)
    targets = model.pop("_target_", None)
    search_space = model.pop("search_space", None) or {}
    if isinstance(targets, str):
        targets = {family: targets for family in TASK_FAMILIES}
    if not isinstance(targets, Mapping) or not targets:
        raise ConfigError(
            f"model={name}: `_target_`: each model config needs a `_target_`, either one dotted "
            "class path or a mapping {classification: ..., regression: ...}; got "
            f"{targets!r}."
        )
    unknown = set(targets) - set(TASK_FAMILIES)
    if unknown:
        raise ConfigError(
            f"model={name}: `_target_`: unknown task family {sorted(unknown)}; use "
            f"{' and/or '.join(TASK_FAMILIES)}."
        )
    return ModelSpec(name=name, targets=dict(targets), params=model,
                     search_space=dict(search_space))
