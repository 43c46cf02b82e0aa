"""The engine's registry mirrored in MLflow's after each change, not only at registration.

After a registry transaction changed a model (a version registered, an alias moved or deleted:
``promote``, ``rollback``, ``alias``, the lifecycle's gate, ``abtest --promote``), each of its
versions whose run was logged to MLflow (its ``mlflow.json``) is registered there if it is not
yet, and MLflow's aliases of the model are made the engine's: an alias the engine moved points
at the same version in MLflow, one it moved to a version MLflow does not hold, or deleted, is
removed there. Aliases the engine never used are left alone. The engine's registry is the
record: MLflow that cannot be reached is one warning line, never an undone move. A model none
of whose runs was logged to MLflow never imports it.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import EngineError
from engine.tracking.files import read_json
from engine.tracking.mlflow_checks import INSTALL_HINT

if TYPE_CHECKING:
    from engine.deploy.registry import ModelVersion, Registry

MLFLOW_FILE = "mlflow.json"
"""Where a run was logged (store, experiment, run id, model URI), written once it was."""


def mirror_aliases(registry: Registry, names: set[str]) -> None:
    """Bring MLflow's registry up to date with ``registry`` for the models ``names``."""
    for name in sorted(names):
        by_store: dict[str, list[tuple[ModelVersion, dict[str, Any]]]] = defaultdict(list)
        for version in registry.versions(name):
            logged = _logged(Path(version.run_dir))
            if logged is not None:
                by_store[str(logged["tracking_uri"])].append((version, logged))
        if not by_store:  # no run of this model was logged to MLflow: nothing to mirror
            continue
        used = {move.alias for move in registry.history(name)}
        for uri, versions in by_store.items():
            problem = _sync(uri, name, versions, used)
            if problem:
                print(f"warning: MLflow's registry at {uri} still shows the aliases of '{name}' "
                      f"as they were: {problem}. The engine's registry has the change.",
                      file=sys.stderr)


def _sync(uri: str, name: str, versions: list[tuple[ModelVersion, dict[str, Any]]],
          used: set[str]) -> str | None:
    """:func:`engine.tracking.mlflow_registry.sync_model`, or why MLflow cannot be asked."""
    try:
        from engine.tracking.mlflow_registry import sync_model
    except ImportError:
        return f"MLflow is not installed here ({INSTALL_HINT})"
    return sync_model(uri, name, versions, used)


def logged_record(run_dir: Path) -> dict[str, Any] | None:
    """What ``mlflow.json`` says of a run logged to MLflow (its store and run id at least);
    None for a run not logged (yet)."""
    try:
        logged = read_json(run_dir / MLFLOW_FILE)
    except (EngineError, OSError):
        return None
    if not isinstance(logged, dict) or not {"tracking_uri", "run_id"} <= logged.keys():
        return None
    return logged


def _logged(run_dir: Path) -> dict[str, Any] | None:
    """What ``mlflow.json`` says of a run logged with its model; None for any other run."""
    logged = logged_record(run_dir)
    return logged if logged is not None and "model_uri" in logged else None
