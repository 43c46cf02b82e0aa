"""The experiment as plain, typed values: what every stage reads instead of Hydra's config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.config.checks import check_flag
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
    """One resolved experiment; built from the composed config by :func:`spec_from_config`."""

    dataset: dict[str, Any]
    features: dict[str, Any]
    split: dict[str, Any]
    model: ModelSpec
    metrics: dict[str, Any]
    tune: dict[str, Any]
    deploy: dict[str, Any]
    quality: dict[str, Any]
    seed: int
    n_jobs: int
    allowed_targets: tuple[str, ...] = ()
    report: bool = True
    choices: dict[str, str] = field(default_factory=dict)
    candidates: dict[str, ModelSpec] = field(default_factory=dict)


def spec_from_config(
    config: Mapping[str, Any],
    choices: Mapping[str, str],
    candidates: Mapping[str, Mapping[str, Any]] | None = None,
) -> ExperimentSpec:
    """Build the spec from a resolved config mapping (no Hydra objects) and the group choices.

    ``candidates`` are the model configs ``tune.models`` names, for a search across families.
    """
    return ExperimentSpec(
        dataset=dict(_section(config, "dataset")),
        features=dict(_section(config, "features")),
        split=dict(_section(config, "split")),
        model=model_spec(str(choices.get("model", "model")), _section(config, "model")),
        metrics=dict(_section(config, "metrics")),
        tune=dict(_section(config, "tune")),
        deploy=dict(_section(config, "deploy")),
        quality=dict(_section(config, "quality")),
        seed=_integer(config.get("seed"), "seed"),
        n_jobs=_n_jobs(config.get("n_jobs", 1)),
        allowed_targets=_prefixes(config.get("allowed_targets")),
        report=check_flag(config.get("report", True), "report"),
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


def _section(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config.get(key)
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{key}: expected a mapping from the '{key}' config group, got {value!r}. "
            f"Pick one with `{key}=<option>` (see `python -m engine --help`)."
        )
    return value


def _n_jobs(value: Any) -> int:
    n_jobs = _integer(value, "n_jobs")
    if n_jobs == 0:
        raise ConfigError("n_jobs: 0 workers cannot run anything; use 1, a count, or -1 for all.")
    return n_jobs


def _prefixes(value: Any) -> tuple[str, ...]:
    """``allowed_targets``: a list of module prefixes, each ending in '.' (``mypackage.``)."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ConfigError(
            f"allowed_targets: expected a list of module prefixes, got {value!r}. "
            f"Write it as a list: 'allowed_targets=[{value}]'."
        )
    for prefix in value:
        if not isinstance(prefix, str) or not prefix.endswith("."):
            raise ConfigError(
                f"allowed_targets: {prefix!r} must be a module prefix ending in '.', such as "
                "'mypackage.', so that it cannot also allow 'mypackage_other'."
            )
    return tuple(value)


def _integer(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}: must be an integer, got {value!r}. Example: {key}=42.")
    return value
