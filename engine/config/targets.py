"""Loading the classes that configs name by ``_target_``, and the functions that callable
parameters name, behind allow-lists and by kind.

A ``_target_`` is code loading, so only module prefixes on the allow-list are imported: the
engine's own, scikit-learn, PyTorch and Optuna (and Hydra's own plugins, at Hydra's places),
plus the prefixes a user adds in ``allowed_targets``. What is imported must then be a class of
the :class:`Kind` its place expects, tested as scikit-learn tests one (methods for a
transformer, a public base class for a classifier, an ``nn.Module``, a Hydra ``Callback``):
``torch.load`` is a function and ``sklearn.ensemble.RandomForestClassifier`` no transformer,
so neither is ever called, whatever the allow-list says.

A callable parameter (``score_func``, a FunctionTransformer's ``func``) is narrower still: one
of the CALLABLE_FAMILIES (pure functions of arrays, no loaders), or a Python function of the
user's own code, under one of their ``allowed_targets`` prefixes. Own code is code outside the
standard library and the installed packages, so allowing ``numpy.`` or ``torch.`` never admits
``numpy.load`` or ``torch.load``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import site
import sys
import sysconfig
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from engine.errors import ConfigError, closest, did_you_mean

DEFAULT_ALLOWED_PREFIXES = ("engine.", "sklearn.", "torch.", "optuna.")
HYDRA_PREFIXES = ("hydra.", "hydra_plugins.")  # allowed only where Hydra's own plugins go
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


@dataclass(frozen=True)
class Kind:
    """The kind of class a config place takes.

    ``missing`` says what a class lacks to be one ("" when it is one), ``example`` is a class
    to name instead, and ``prefixes`` are what this place adds to the allow-list.
    """

    name: str
    example: str
    missing: Callable[[type], str]
    prefixes: tuple[str, ...] = ()


def has_methods(*methods: str) -> Callable[[type], str]:
    """Duck typing as scikit-learn does it: a transformer is what has fit and transform."""

    def missing(cls: type) -> str:
        lacking = [method for method in methods if not hasattr(cls, method)]
        return f"it has no {', '.join(lacking)}" if lacking else ""

    return missing


def subclass_of(base: str) -> Callable[[type], str]:
    """A public base class, imported only once a class is checked against it."""

    def missing(cls: type) -> str:
        module_name, _, name = base.rpartition(".")
        if issubclass(cls, getattr(importlib.import_module(module_name), name)):
            return ""
        return f"it does not subclass {base}"

    return missing


TRANSFORMER = Kind("scikit-learn transformer", "sklearn.preprocessing.StandardScaler (a "
                   "function goes in FunctionTransformer's func, e.g. numpy.log1p)",
                   has_methods("fit", "transform", "get_params"))
ESTIMATOR = Kind("scikit-learn estimator", "sklearn.linear_model.LogisticRegression",
                 has_methods("fit", "get_params"))
CLASSIFIER = Kind("scikit-learn classifier", "sklearn.ensemble.HistGradientBoostingClassifier",
                  subclass_of("sklearn.base.ClassifierMixin"))
REGRESSOR = Kind("scikit-learn regressor", "sklearn.ensemble.HistGradientBoostingRegressor",
                 subclass_of("sklearn.base.RegressorMixin"))
NN_MODULE = Kind("torch.nn.Module", "engine.models.torch.TabularMLP",
                 subclass_of("torch.nn.Module"))
CALLBACK = Kind("Hydra callback", "engine.tracking.leaderboard.LeaderboardCallback",
                subclass_of("hydra.experimental.callback.Callback"), HYDRA_PREFIXES)
SWEEPER = Kind("Hydra sweeper", "hydra_plugins.engine_optuna_sweeper.OptunaSweeper (chosen "
               "with hydra/sweeper=optuna)", subclass_of("hydra.plugins.sweeper.Sweeper"),
               HYDRA_PREFIXES)
LAUNCHER = Kind("Hydra launcher", "hydra._internal.core_plugins.basic_launcher.BasicLauncher",
                subclass_of("hydra.plugins.launcher.Launcher"), HYDRA_PREFIXES)
HYDRA_PLACES = {"hydra.sweeper": SWEEPER, "hydra.launcher": LAUNCHER}


def hydra_kind(place: str) -> Kind:
    """The kind a ``_target_`` at ``place`` in Hydra's config names (``hydra.callbacks.<name>``,
    ``hydra.sweeper``, ``hydra.launcher``); Hydra's config has no other place for one."""
    if place.rpartition(".")[0] == "hydra.callbacks":
        return CALLBACK
    if place in HYDRA_PLACES:
        return HYDRA_PLACES[place]
    raise ConfigError(
        f"{place}._target_: Hydra's config takes a `_target_` only at hydra.callbacks.<name>, "
        "hydra.sweeper and hydra.launcher; remove this one (a sweeper or launcher is chosen by "
        "its group, e.g. hydra/sweeper=optuna)."
    )


def _check_allowed(target: str, key: str, kind: Kind, extra_prefixes: Iterable[str]) -> None:
    """Refuse a ``_target_`` whose module is not on the allow-list, saying how to allow it."""
    prefixes = (*DEFAULT_ALLOWED_PREFIXES, *kind.prefixes, *extra_prefixes)
    if not any(target.startswith(prefix) for prefix in prefixes):
        module_prefix = target.split(".")[0] + "."
        raise ConfigError(
            f"{key}: '{target}' is outside the allow-list of modules a config may load "
            f"({', '.join(prefixes)}). If it is a {kind.name} class you trust, allow its "
            f"module with "
            f"`allowed_targets=[{module_prefix}]` on the command line, or for every run in "
            f"your config folder's project/default.yaml (allowed_targets: [{module_prefix}])."
        )


def import_target(target: str, key: str, extra_prefixes: Iterable[str] = (), *,
                  kind: Kind) -> type:
    """Import the class named by a dotted ``_target_``: its module on the allow-list, and the
    class of the ``kind`` its place expects.

    A function (``torch.load``) is refused even under an allowed prefix: a ``_target_`` is
    built by calling it with the config's keywords, which only a class of the right kind may
    receive.
    """
    if not isinstance(target, str) or "." not in target:
        raise ConfigError(
            f"{key}: '{target}' is not a dotted import path; write it as "
            f"'package.module.ClassName', e.g. {kind.example}."
        )
    _check_allowed(target, key, kind, extra_prefixes)
    imported = _import_attribute(target, key)
    if not inspect.isclass(imported):
        what = "function" if callable(imported) else type(imported).__name__
        raise ConfigError(
            f"{key}: '{target}' is a {what}, not a class; a `_target_` here names a "
            f"{kind.name} class, e.g. {kind.example}."
        )
    reason = kind.missing(imported)
    if reason:
        raise ConfigError(
            f"{key}: '{target}' is not a {kind.name} ({reason}); name one such as "
            f"{kind.example}."
        )
    return imported


def resolve_callable(name: str, key: str, extra_prefixes: Iterable[str] = ()) -> Callable[..., Any]:
    """The function a callable parameter names: from CALLABLE_FAMILIES, or a Python function
    of the user's own code under one of their ``allowed_targets`` prefixes (see
    :func:`_own_function`). Anything else (``numpy.load``, ``torch.load``, ``builtins.eval``,
    even with ``allowed_targets=[numpy.]``) is refused before it can be called.
    """
    module_name, _, attribute = name.rpartition(".")
    prefixes = tuple(extra_prefixes)
    if any(name.startswith(prefix) for prefix in prefixes):
        function = _import_attribute(name, key)
        if _own_function(function, prefixes):
            return function
    elif attribute in _family_members(module_name):
        return getattr(importlib.import_module(module_name), attribute)
    raise ConfigError(
        f"{key}: '{name}' is not a function a config may pass. A callable parameter takes one "
        f"of: {'; '.join(CALLABLE_FAMILIES)}; or a function of your own code (not of an "
        "installed library or Python's standard library) in a module you allow with "
        f"`allowed_targets=[mypackage.]`.{_closest_family_member(name)}"
    )


def _own_function(function: object, prefixes: tuple[str, ...]) -> bool:
    """Whether ``function`` is a Python function defined in the user's own code: in a module
    under one of ``prefixes`` whose file lies outside the standard library and the installed
    packages. A loader re-exported under an allowed name (``pickle.loads``) is defined
    elsewhere; a builtin (``os.system``) is no Python function."""
    if not inspect.isfunction(function):
        return False
    module = sys.modules.get(function.__module__)
    path = getattr(module, "__file__", None)
    return (any(f"{function.__module__}.".startswith(prefix) for prefix in prefixes)
            and path is not None
            and not any(Path(path).resolve().is_relative_to(root) for root in _library_roots()))


@cache
def _library_roots() -> tuple[Path, ...]:
    """The folders of Python's standard library and of installed packages."""
    paths = sysconfig.get_paths()
    folders = [paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")]
    folders += [*site.getsitepackages(), site.getusersitepackages()]
    return tuple(Path(folder).resolve() for folder in folders)


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
