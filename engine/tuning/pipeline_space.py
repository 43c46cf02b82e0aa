"""The whole Pipeline's search space: the model's, the features', or one across model families.

Optuna names are the config's names (``C``, ``numeric__simpleimputer__strategy``); across model
families the family is a categorical ``model`` and each family's names get its prefix
(``random_forest.max_depth``), active only when that family is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from engine.config.spec import ExperimentSpec, ModelSpec
from engine.errors import ConfigError, did_you_mean
from engine.features.preprocessor import build_preprocessor
from engine.models.estimators import build_estimator
from engine.tuning.space import Param, parse_space

if TYPE_CHECKING:
    from optuna.trial import BaseTrial

FAMILY = "model"


@dataclass(frozen=True)
class PipelineSpace:
    """Every searchable parameter of the Pipeline, and how a draw becomes ``set_params``."""

    params: tuple[Param, ...]
    families: dict[str, ModelSpec] = field(default_factory=dict)
    task: str = "binary"
    allowed: tuple[str, ...] = ()

    def suggest(self, trial: BaseTrial) -> dict[str, Any]:
        """Draw the active parameters from ``trial``; return Pipeline ``set_params`` keywords."""
        drawn: dict[str, Any] = {}
        for param in self.params:
            if param.active(drawn):
                drawn[param.name] = param.suggest(trial)
        return self.pipeline_params(drawn)

    def pipeline_params(self, drawn: Mapping[str, Any]) -> dict[str, Any]:
        """``set_params`` keywords for drawn values (a trial's ``params``)."""
        params = {p.key: drawn[p.name] for p in self.params if p.name in drawn and p.key}
        if self.families:
            family = self.families[drawn[FAMILY]]
            params[FAMILY] = build_estimator(family, self.task, self.allowed)
        return params

    def grid(self) -> dict[str, list[Any]]:
        """Every parameter's grid values, for ``tune.method=grid``."""
        return {param.name: param.grid() for param in self.params}


def space_for(
    spec: ExperimentSpec, task: str, families: Mapping[str, ModelSpec], columns: list[str] | None
) -> PipelineSpace:
    """The search space of ``spec``'s Pipeline (model or families, plus features)."""
    features = build_preprocessor(spec.features, columns=columns,
                                  allowed=spec.allowed_targets)
    return pipeline_space(
        spec.model, spec.features.search_space, families=families,
        feature_params=features.get_params(deep=True), task=task, allowed=spec.allowed_targets,
    )


def pipeline_space(
    model: ModelSpec,
    features_space: Mapping[str, Any] | None,
    *,
    families: Mapping[str, ModelSpec] | None = None,
    feature_params: Iterable[str] = (),
    task: str = "binary",
    allowed: Iterable[str] = (),
) -> PipelineSpace:
    """Parse the model's (or every family's) and the features' search spaces into one."""
    params = _feature_params(features_space, set(feature_params))
    if families:
        params.append(Param(FAMILY, "", "categorical", choices=tuple(families),
                            where="tune.models"))
        for name, family in families.items():
            params += _family_params(name, family)
    else:
        params += parse_space(model.search_space, prefix="model__", section="model.search_space")
    if not params:
        raise ConfigError(
            f"model={model.name}: the search space is empty. Add a `search_space` to the model "
            "config (see conf/model/*.yaml), or use tune=none."
        )
    return PipelineSpace(tuple(params), dict(families or {}), task, tuple(allowed))


def _feature_params(space: Mapping[str, Any] | None, known: set[str]) -> list[Param]:
    params = parse_space(space, prefix="features__", section="features.search_space")
    for param in params:
        if known and param.name not in known:
            raise ConfigError(
                f"features.search_space.{param.name}: the features have no parameter "
                f"'{param.name}'.{did_you_mean(param.name, known)} Names are "
                "<block>__<step>__<parameter>, e.g. numeric__simpleimputer__strategy."
            )
    return params


def _family_params(name: str, family: ModelSpec) -> list[Param]:
    """A family's own space, its names prefixed and active only when the family is drawn."""
    params = parse_space(family.search_space, prefix="model__",
                         section=f"model={name}: search_space")
    return [
        replace(
            param,
            name=f"{name}.{param.name}",
            when={FAMILY: (name,), **{f"{name}.{k}": v for k, v in param.when.items()}},
        )
        for param in params
    ]
