"""Checking config keyword arguments against a class's signature before anything runs."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from engine.config.targets import resolve_callable
from engine.errors import ConfigError, did_you_mean


def accepted_parameters(cls: type) -> set[str] | None:
    """The keyword names ``cls(...)`` accepts, or None when it takes ``**kwargs``."""
    parameters = inspect.signature(cls).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL}


def check_parameters(classes: type | Iterable[type], names: Iterable[str], key: str) -> None:
    """Raise a ConfigError naming the first keyword in ``names`` that no class of ``classes``
    takes (one class, or the several one config feeds: a model's classifier and regressor),
    with did-you-mean."""
    classes = [classes] if isinstance(classes, type) else list(classes)
    accepted = [accepted_parameters(cls) for cls in classes]
    if None in accepted:
        return
    known = {name for names in accepted for name in names or ()}
    for name in names:
        if name not in known:
            owners = " or ".join(cls.__name__ for cls in classes)
            raise ConfigError(
                f"{key}.{name}: {owners} has no parameter '{name}'."
                f"{did_you_mean(name, known)} Its parameters: {', '.join(sorted(known))}."
            )


def from_config_values(
    cls: type, params: Mapping[str, Any], key: str, extra_prefixes: Iterable[str] = ()
) -> dict[str, Any]:
    """``params`` as ``cls`` takes them, where YAML cannot write the value itself.

    Read from scikit-learn's ``_parameter_constraints``: a string for a parameter that takes a
    function, and matches none of its string options, is the function's dotted name
    (``score_func: sklearn.feature_selection.chi2``, ``func: numpy.log1p``; ``analyzer: word``
    stays a string), resolved through the allow-list of :func:`resolve_callable`; a list for a
    parameter that takes a tuple becomes one (``ngram_range: [1, 2]``).
    """
    constraints = getattr(cls, "_parameter_constraints", {})
    values = dict(params)
    for name, value in params.items():
        options = constraints.get(name, ())
        if not isinstance(options, list):  # "no_validation": nothing to read
            continue
        if isinstance(value, str) and callable in options and not _takes_string(options, value):
            values[name] = resolve_callable(value, f"{key}.{name}", tuple(extra_prefixes))
        elif isinstance(value, list) and tuple in options and not _takes_list(options):
            values[name] = tuple(value)
    return values


def _takes_string(options: Iterable[Any], value: str) -> bool:
    """Whether one of a parameter's constraints takes ``value`` as a string."""
    return any(option is str or value in getattr(option, "options", ()) for option in options)


def _takes_list(options: Iterable[Any]) -> bool:
    """Whether one of a parameter's constraints takes a list as it is."""
    return any(option is list or option == "array-like" for option in options)


def instantiate_checked(cls: type, params: Mapping[str, Any], key: str) -> Any:
    """Build ``cls(**params)`` and run scikit-learn's own parameter validation on it.

    Wrong types and out-of-range values (``n_estimators='abc'``) are caught here, before any
    data is loaded, and reported against the config key that set them.
    """
    check_parameters(cls, params, key)
    try:
        instance = cls(**params)
        if hasattr(instance, "_parameter_constraints"):
            instance._validate_params()
    except (TypeError, ValueError) as error:
        text = str(error)
        named = [(text.find(f"'{name}'"), name) for name in params if f"'{name}'" in text]
        bad = min(named)[1] if named else None  # the first named, not a did-you-mean suggestion
        where = f"{key}.{bad}" if bad else key
        raise ConfigError(f"{where}: {error}") from None
    return instance
