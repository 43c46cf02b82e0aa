"""Building the estimator a model config names, for the task the data turned out to be."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.config.binding import accepted_parameters, instantiate_checked
from engine.config.spec import ModelSpec
from engine.config.targets import import_target
from engine.errors import ConfigError, did_you_mean


def task_family(task: str) -> str:
    """``classification`` for binary and multiclass tasks, else ``regression``."""
    return "regression" if task == "regression" else "classification"


def validate_model(model: ModelSpec, allowed: Iterable[str] = ()) -> None:
    """Check every estimator class, parameter and search-space name before any data is loaded.

    A parameter only one task family's estimator takes (``class_weight`` for a classifier) is
    kept for that family and left out for the other; one that no estimator takes is an error.
    """
    classes = _classes(model, allowed)
    accepted = {family: accepted_parameters(cls) for family, cls in classes.items()}
    known = set().union(*(names or set() for names in accepted.values()))
    takes_anything = any(names is None for names in accepted.values())
    for section, names in (("", model.params), ("search_space.", model.search_space)):
        for name in names:
            if not takes_anything and name not in known:
                owners = " or ".join(cls.__name__ for cls in classes.values())
                raise ConfigError(
                    f"model.{section}{name}: {owners} has no parameter '{name}'."
                    f"{did_you_mean(name, known)} Its parameters: {', '.join(sorted(known))}."
                )
    for cls in classes.values():
        instantiate_checked(cls, _params_for(cls, model.params), "model")
        _check_search_values(cls, model)


def _check_search_values(cls: type, model: ModelSpec) -> None:
    """Each categorical choice and both ends of each range must be a value ``cls`` accepts."""
    accepted = accepted_parameters(cls)
    for name, entry in model.search_space.items():
        if not isinstance(entry, Mapping) or (accepted is not None and name not in accepted):
            continue  # the space's own checks report a malformed entry
        values = entry.get("choices") or [entry.get("low"), entry.get("high")]
        for value in values if isinstance(values, list | tuple) else []:
            if value is not None:
                params = {**_params_for(cls, model.params), name: value}
                instantiate_checked(cls, params, "model.search_space")


def build_estimator(model: ModelSpec, task: str, allowed: Iterable[str] = ()) -> Any:
    """The configured estimator for ``task``, with the parameters its class accepts."""
    family = task_family(task)
    if family not in model.targets:
        supported = " and ".join(model.targets)
        raise ConfigError(
            f"model={model.name}: supports {supported} only, but the data is a {task} task. "
            f"Pick a model with a {family} estimator (e.g. model=random_forest or "
            f"model=hist_gbm), or declare the task with dataset.task=..."
        )
    cls = import_target(model.targets[family], f"model._target_.{family}", allowed)
    return instantiate_checked(cls, _params_for(cls, model.params), "model")


def _classes(model: ModelSpec, allowed: Iterable[str]) -> dict[str, type]:
    allowed = tuple(allowed)
    return {
        family: import_target(path, f"model._target_.{family}", allowed)
        for family, path in model.targets.items()
    }


def _params_for(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    accepted = accepted_parameters(cls)
    return dict(params) if accepted is None else {k: v for k, v in params.items() if k in accepted}
