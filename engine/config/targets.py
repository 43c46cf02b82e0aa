"""Loading the classes that configs name by ``_target_``, behind an allow-list.

A ``_target_`` is code loading, so only module prefixes on the allow-list are imported: the
engine's own, scikit-learn, PyTorch and Optuna, plus the prefixes a user adds in
``allowed_targets``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from engine.errors import ConfigError, did_you_mean

DEFAULT_ALLOWED_PREFIXES = ("engine.", "sklearn.", "torch.", "optuna.")


def check_allowed(target: str, key: str, extra_prefixes: Iterable[str] = ()) -> None:
    """Refuse a ``_target_`` whose module is not on the allow-list, saying how to allow it."""
    prefixes = (*DEFAULT_ALLOWED_PREFIXES, *extra_prefixes)
    if not any(target.startswith(prefix) for prefix in prefixes):
        module_prefix = target.split(".")[0] + "."
        raise ConfigError(
            f"{key}: '{target}' is outside the allow-list of modules a config may load "
            f"({', '.join(prefixes)}). If you trust it, allow its module with "
            f"`allowed_targets=[{module_prefix}]` on the command line or in your config."
        )


def import_target(target: str, key: str, extra_prefixes: Iterable[str] = ()) -> type:
    """Import the class named by a dotted ``_target_`` after checking the allow-list."""
    if not isinstance(target, str) or "." not in target:
        raise ConfigError(
            f"{key}: '{target}' is not a dotted import path; write it as "
            "'package.module.ClassName', e.g. sklearn.ensemble.RandomForestClassifier."
        )
    check_allowed(target, key, extra_prefixes)
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
