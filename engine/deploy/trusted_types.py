"""The types a bundle's pipeline may hold, and loading it with skops against that list.

skops rebuilds an object only from types it is told to trust: by default scikit-learn's public
estimators, numpy's and scipy's types and ufuncs, and nothing of ours. ``TRUSTED_TYPES`` adds
the engine's own classes and the few scikit-learn internals the shipped configs put in a
pipeline; a file naming any other type is refused by name before anything of it is built.

A model family, feature step or wrapper added later joins this list with a case in
``tests/deploy/test_bundle_trust.py``, which round-trips every shipped model and features config.

A user's own code (a network named by ``model.module._target_`` under ``allowed_targets``) is
trusted only where the user says so when loading: ``ENGINE_TRUSTED_TYPES`` holds full type names
or module prefixes ending in '.', comma-separated. The bundle itself never widens the list.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

from engine.errors import DataError, first_line

TRUSTED_VARIABLE = "ENGINE_TRUSTED_TYPES"

ENGINE_TYPES = (
    "engine.features.dates.DateFeatures",
    "engine.features.selectors.ColumnSelector",
    "engine.features.text.FillMissingText",
    "engine.models.catboost_model.CatBoostClassifier",
    "engine.models.catboost_model.CatBoostRegressor",
    "engine.models.lightgbm_model.LightGBMClassifier",
    "engine.models.lightgbm_model.LightGBMRegressor",
    "engine.models.xgboost_model.XGBoostClassifier",
    "engine.models.xgboost_model.XGBoostRegressor",
    "engine.models.ensemble.WeightedEnsembleClassifier",
    "engine.models.ensemble.WeightedEnsembleRegressor",
    "engine.models.torch.estimator.TorchClassifier",
    "engine.models.torch.estimator.TorchRegressor",
    "engine.models.torch.mlp.TabularMLP",
)
"""The engine's classes a pipeline holds (a network's class is kept as a type; its weights are
bytes that ``torch.load(weights_only=True)`` reads; a boosted model's booster is the library's
own model file, text or bytes, which the library parses: ``engine.models.boosting``)."""

SKLEARN_INTERNALS = (
    # Tree storage of random_forest and extra_trees, and hist_gbm's predictors (skops leaves
    # them out of its defaults: their node indices are not bounds-checked; the manifest's
    # digests, and a signing key where one is set, are what vouch for their content).
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # metrics.calibration
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    # knn on fewer than 16 columns builds a tree; p=2 and p=1 (its search space) pick the metric
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64",
    # a dtype kept by a fitted step (rebuilt from an empty array, never from a pickle)
    "numpy.dtype",
)


def callable_types() -> tuple[str, ...]:
    """The functions a config may pass as a parameter (``score_func``, a FunctionTransformer's
    ``func``) beyond the ufuncs skops trusts already: :mod:`engine.config.targets`' families."""
    import numpy as np
    from sklearn import feature_selection

    from engine.config.targets import NUMPY_FUNCTIONS, SCORE_FUNCTIONS

    functions = [getattr(feature_selection, name) for name in SCORE_FUNCTIONS]
    functions += [getattr(np, name) for name in NUMPY_FUNCTIONS]
    return tuple(f"{function.__module__}.{function.__name__}" for function in functions)


def trusted_types() -> list[str]:
    """Every type a bundle may hold beyond skops' defaults: the engine's, the scikit-learn
    internals above and the callable families."""
    return [*ENGINE_TYPES, *SKLEARN_INTERNALS, *callable_types()]


def user_trusted() -> tuple[str, ...]:
    """The type names and module prefixes the user trusts in ``ENGINE_TRUSTED_TYPES``."""
    return tuple(part.strip() for part in os.environ.get(TRUSTED_VARIABLE, "").split(",")
                 if part.strip())


ARRAY_API_TORCH = "sklearn.externals.array_api_compat.torch"


def skops_io() -> ModuleType:
    """``skops.io``, imported without importing PyTorch where nothing has imported it yet.

    On import skops lists scikit-learn's estimators (``sklearn.utils.discovery.all_estimators``),
    and that walk imports every scikit-learn package to look inside it, ``externals`` included,
    whose array-API shim for PyTorch imports torch, for a module the walk then leaves out: 4.4 s
    to import skops against 1.9 s without it, in every training run's save and every
    ``predict`` and ``serve`` start-up. The shim is kept out of that walk alone (a None in
    ``sys.modules`` makes its import an ImportError, which the walk skips) and is importable
    again afterwards; the estimators skops trusts are the same (tested).
    """
    if "skops.io" in sys.modules or "torch" in sys.modules or ARRAY_API_TORCH in sys.modules:
        import skops.io
        return skops.io
    sys.modules[ARRAY_API_TORCH] = None  # type: ignore[assignment]
    try:
        import skops.io
    finally:
        del sys.modules[ARRAY_API_TORCH]
    return skops.io


def load_trusted(data: bytes, source: Path) -> Any:
    """The object the skops file ``data`` holds, built only from trusted types; ``source``
    names the file in errors. A type outside the list is refused by name before anything of
    the file is built."""
    skops = skops_io()
    try:
        users = _users_types(skops.get_untrusted_types(data=data), source)
        return skops.loads(data, trusted=[*trusted_types(), *users])
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        raise DataError(f"model bundle '{source}': not a skops file this engine can read "
                        f"({type(error).__name__}: {first_line(error)}). Re-run the experiment "
                        "to write it again.") from None


def _users_types(untrusted: list[str], source: Path) -> list[str]:
    """The file's types beyond skops' defaults that the user trusts; any type neither the
    engine nor the user trusts is refused."""
    users = [name for name in untrusted if _user_allows(name, user_trusted())]
    refused = sorted(set(untrusted) - set(trusted_types()) - set(users))
    if refused:
        raise DataError(
            f"model bundle '{source}': it holds {', '.join(refused)}, not among the types the "
            "engine trusts, so it is refused before anything is built (building it could run "
            "its code). If it is a class of your own and you trust where the bundle came from, "
            f"set {TRUSTED_VARIABLE}={refused[0]} where you load it."
        )
    return users


def _user_allows(name: str, allowed: tuple[str, ...]) -> bool:
    return any(name == entry or (entry.endswith(".") and name.startswith(entry))
               for entry in allowed)
