"""Building the estimator a model config names, for the task the data turned out to be."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from engine.config.binding import accepted_parameters, check_parameters, instantiate_checked
from engine.config.spec import ModelSpec
from engine.config.targets import CLASSIFIER, ESTIMATOR, NN_MODULE, REGRESSOR, Kind, import_target
from engine.errors import ConfigError

KINDS = {"classification": CLASSIFIER, "regression": REGRESSOR}


def task_family(task: str) -> str:
    """``classification`` for binary and multiclass tasks, else ``regression``."""
    return "regression" if task == "regression" else "classification"


def is_torch_estimator(cls: type) -> bool:
    """Whether ``cls`` is one of the engine's PyTorch estimators, without importing torch.

    Such a class exists only once its module is imported, so a run of scikit-learn models never
    pays for loading torch (over a second) to learn that it has none.
    """
    module = sys.modules.get("engine.models.torch.estimator")
    return module is not None and issubclass(cls, module.TorchEstimator)


def validate_model(model: ModelSpec, allowed: Iterable[str] = ()) -> None:
    """Check every estimator class, parameter and search-space name before any data is loaded.

    A parameter only one task family's estimator takes (``class_weight`` for a classifier) is
    kept for that family and left out for the other; one that no estimator takes is an error.
    """
    classes = model_classes(model, allowed)
    check_installed(model.name, classes.values())
    params = _component_params(model.params, allowed, classes.values())
    for key, names in (("model", model.params), ("model.search_space", model.search_space)):
        check_parameters(classes.values(), names, key)
    for cls in classes.values():
        own = _params_for(cls, params, classes.values())
        instantiate_checked(cls, own, "model")
        _check_search_values(cls, model, own)


def check_installed(name: str, classes: Iterable[type]) -> None:
    """Refuse a model whose library (a class's ``library``) is not installed, naming the extra
    that installs it: ``model=catboost`` without the catboost extra."""
    for cls in classes:
        library = getattr(cls, "library", "")
        if library and importlib.util.find_spec(library) is None:
            extra = getattr(cls, "extra", None)
            install = (f'the {extra} extra: pip install -e ".[{extra}]" (or pip install '
                       f'"engine[{extra}]")' if extra else 'the engine: pip install -e .')
            raise ConfigError(f"model={name}: {library} is not installed. Install {install}, "
                              "or pick another model (model=lightgbm, model=hist_gbm).")


def _check_search_values(cls: type, model: ModelSpec, params: dict[str, Any]) -> None:
    """Each categorical choice and both ends of each range must be a value ``cls`` accepts."""
    accepted = accepted_parameters(cls)
    for name, entry in model.search_space.items():
        if not isinstance(entry, Mapping) or (accepted is not None and name not in accepted):
            continue  # the space's own checks report a malformed entry
        values = entry.get("choices") or [entry.get("low"), entry.get("high")]
        for value in values if isinstance(values, list | tuple) else []:
            if value is not None:
                instantiate_checked(cls, {**params, name: value}, "model.search_space")


def build_estimator(model: ModelSpec, task: str, allowed: Iterable[str] = ()) -> Any:
    """The configured estimator for ``task``, with the parameters its class accepts."""
    family = task_family(task)
    classes = model_classes(model, allowed)
    if family not in classes:
        supported = " and ".join(classes)
        raise ConfigError(
            f"model={model.name}: supports {supported} only, but the data is a {task} task. "
            f"Pick a model with a {family} estimator (e.g. model=random_forest or "
            f"model=hist_gbm), or declare the task with dataset.task=..."
        )
    params = _params_for(classes[family],
                         _component_params(model.params, allowed, classes.values()),
                         classes.values())
    return instantiate_checked(classes[family], params, "model")


def model_classes(model: ModelSpec, allowed: Iterable[str] = ()) -> dict[str, type]:
    """The estimator class per task family it can learn, imported through the allow-list.

    A class named per family must be a classifier or a regressor as its family says; one class
    for both (``_target_: sklearn.linear_model.Ridge``) must be an estimator, and serves the
    family it belongs to (a clusterer, predicting no target, belongs to none)."""
    allowed = tuple(allowed)
    if len(set(model.targets.values())) > 1:
        return {family: import_target(path, f"model._target_.{family}", allowed,
                                      kind=KINDS[family])
                for family, path in model.targets.items()}
    path = next(iter(model.targets.values()))
    cls = import_target(path, "model._target_", allowed, kind=ESTIMATOR)
    classes = {family: cls for family in model.targets if not KINDS[family].missing(cls)}
    if not classes:
        raise ConfigError(
            f"model._target_: {path} is neither a scikit-learn classifier nor a regressor, so "
            "it cannot learn a target (a clusterer or a transformer predicts none). Name an "
            "estimator class, e.g. model=hist_gbm."
        )
    return classes


def _params_for(cls: type, params: dict[str, Any], classes: Iterable[type]) -> dict[str, Any]:
    """The parameters for ``cls``: all but those only another task family's class declares."""
    declared = {other: _declared(other) for other in classes}
    known = set().union(*declared.values())
    own = _declared(cls)
    return {k: v for k, v in params.items() if k in own or k not in known}


def _declared(cls: type) -> set[str]:
    """The parameter names ``cls`` declares (for a class taking ``**kwargs``, its own names)."""
    accepted = accepted_parameters(cls)
    if accepted is not None:
        return accepted
    return set(cls._get_param_names()) if hasattr(cls, "_get_param_names") else set()


def _component_params(params: dict[str, Any], allowed: Iterable[str],
                      classes: Iterable[type]) -> dict[str, Any]:
    """Flatten a component given by ``_target_`` into the class plus routed parameters.

    ``module: {_target_: engine.models.torch.TabularMLP, width: 64}`` becomes
    ``module=TabularMLP, module__width=64``: the skorch-style routing a tuner reaches. The
    component is a class of the kind its place takes (:func:`component_kind`).
    """
    flat: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Mapping) and "_target_" in value:
            flat[name] = import_target(value["_target_"], f"model.{name}._target_",
                                       tuple(allowed), kind=component_kind(name, classes))
            flat.update({f"{name}__{key}": item for key, item in value.items()
                         if key != "_target_"})
        else:
            flat[name] = value
    return flat


def component_kind(name: str, classes: Iterable[type]) -> Kind:
    """What a model parameter given by ``_target_`` must be: the network of a PyTorch
    estimator's ``module``, else an estimator (a meta-estimator's ``estimator``)."""
    torch_owned = any(is_torch_estimator(cls) for cls in classes)
    return NN_MODULE if name == "module" and torch_owned else ESTIMATOR
