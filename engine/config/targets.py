"""Loading the classes that configs name by ``_target_``, and the functions that callable
parameters name, behind allow-lists.

A ``_target_`` is code loading, so only module prefixes on the allow-list are imported: the
engine's own, scikit-learn, PyTorch and Optuna, plus the prefixes a user adds in
``allowed_targets``; and it must name a class, never a function such as ``torch.load``. A
callable parameter (``score_func``, a FunctionTransformer's ``func``) is narrower still: one of
the CALLABLE_FAMILIES (pure functions of arrays, no loaders) or a function under one of the
user's own ``allowed_targets`` prefixes.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any

from engine.errors import ConfigError, closest, did_you_mean

DEFAULT_ALLOWED_PREFIXES = ("engine.", "sklearn.", "torch.", "optuna.")
SCORE_FUNCTIONS = (
    "chi2", "f_classif", "f_oneway", "f_regression", "mutual_info_classif",
    "mutual_info_regression", "r_regression",
)  # fmt: skip
NUMPY_FUNCTIONS = ("clip", "nan_to_num", "round")
CALLABLE_MODULES = ("sklearn.feature_selection", "numpy", "scipy.special")
CALLABLE_FAMILIES = (
    "scikit-learn's score functions (sklearn.feature_selection.f_classif, f_regression, chi2, "
    "mutual_info_classif, ...)",
    "numpy's ufuncs (numpy.log1p, numpy.expm1, numpy.sqrt, ...)",
    "scipy.special's ufuncs (scipy.special.expit, scipy.special.logit, ...)",
    f"numpy.{', numpy.'.join(NUMPY_FUNCTIONS)}",
)


def check_allowed(target: str, key: str, extra_prefixes: Iterable[str] = ()) -> None:
    """Refuse a ``_target_`` whose module is not on the allow-list, saying how to allow it."""
    prefixes = (*DEFAULT_ALLOWED_PREFIXES, *extra_prefixes)
    if not any(target.startswith(prefix) for prefix in prefixes):
        module_prefix = target.split(".")[0] + "."
        raise ConfigError(
            f"{key}: '{target}' is outside the allow-list of modules a config may load "
            f"({', '.join(prefixes)}). If you trust it, allow its module with "
            f"`allowed_targets=[{module_prefix}]` on the command line, or for every run in "
            f"your config folder's project/default.yaml (allowed_targets: [{module_prefix}])."
        )


def import_target(target: str, key: str, extra_prefixes: Iterable[str] = ()) -> type:
    """Import the class named by a dotted ``_target_`` after checking the allow-list.

    A function under an allowed prefix (``torch.load``) is refused: a ``_target_`` is built by
    calling it with the config's keywords, which only a class may receive.
    """
    if not isinstance(target, str) or "." not in target:
        raise ConfigError(
            f"{key}: '{target}' is not a dotted import path; write it as "
            "'package.module.ClassName', e.g. sklearn.ensemble.RandomForestClassifier."
        )
    check_allowed(target, key, extra_prefixes)
    imported = _import_attribute(target, key)
    if not inspect.isclass(imported):
        raise ConfigError(
            f"{key}: '{target}' is a {type(imported).__name__}, not a class; a `_target_` names "
            "a class (e.g. sklearn.preprocessing.StandardScaler). A function goes in a "
            "parameter that takes one (score_func, func), from: "
            f"{'; '.join(CALLABLE_FAMILIES)}."
        )
    return imported


def resolve_callable(name: str, key: str, extra_prefixes: Iterable[str] = ()) -> Callable[..., Any]:
    """The function a callable parameter names, from CALLABLE_FAMILIES or under one of the
    user's ``allowed_targets`` prefixes; anything else (``numpy.load``, ``torch.load``,
    ``builtins.eval``) is refused before any module outside the families is imported.
    """
    module_name, _, attribute = name.rpartition(".")
    if any(name.startswith(prefix) for prefix in extra_prefixes):
        function = _import_attribute(name, key)
        if callable(function) and not inspect.isclass(function):
            return function
    elif attribute in _family_members(module_name):
        return getattr(importlib.import_module(module_name), attribute)
    raise ConfigError(
        f"{key}: '{name}' is not a function a config may pass. A callable parameter takes one "
        f"of: {'; '.join(CALLABLE_FAMILIES)}; or a function of a module you allow with "
        f"`allowed_targets=[mypackage.]`.{_closest_family_member(name)}"
    )


def _closest_family_member(name: str) -> str:
    """`` Did you mean 'numpy.log1p'?`` for ``np.log1p``, or for a bare ``log1p``."""
    by_member: dict[str, str] = {}
    for module in CALLABLE_MODULES:
        for member in _family_members(module):
            by_member.setdefault(member, f"{module}.{member}")
    match = closest(name, by_member.values()) or by_member.get(
        closest(name.rpartition(".")[2], by_member) or "")
    return f" Did you mean '{match}'?" if match else ""


def _family_members(module_name: str) -> tuple[str, ...]:
    """The functions of CALLABLE_FAMILIES in ``module_name`` (none for any other module)."""
    if module_name == "sklearn.feature_selection":
        return SCORE_FUNCTIONS
    if module_name not in CALLABLE_MODULES:
        return ()
    import numpy

    module = importlib.import_module(module_name)
    ufuncs = tuple(name for name in dir(module) if not name.startswith("_")
                   and isinstance(getattr(module, name), numpy.ufunc))
    return (*ufuncs, *NUMPY_FUNCTIONS) if module_name == "numpy" else ufuncs


def _import_attribute(target: str, key: str) -> Any:
    module_name, _, attribute = target.rpartition(".")
    module = _import_module(module_name, key)
    try:
        return getattr(module, attribute)
    except AttributeError:
        public = [name for name in dir(module) if not name.startswith("_")]
        raise ConfigError(
            f"{key}: module '{module_name}' has no '{attribute}'."
            f"{did_you_mean(attribute, public)}"
        ) from None


def _import_module(module_name: str, key: str) -> object:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        parent_name, _, child = module_name.rpartition(".")
        hint = ""
        if parent_name:
            try:
                parent = importlib.import_module(parent_name)
                siblings = [m.name for m in pkgutil.iter_modules(getattr(parent, "__path__", []))]
                hint = did_you_mean(child, siblings)
            except ImportError:
                hint = ""
        raise ConfigError(
            f"{key}: cannot import module '{module_name}' ({error}).{hint}"
        ) from None
