"""The engine's registry entry mirrored in MLflow's model registry: the same name, a version
of the logged model tagged with the engine's version number, and the same aliases; at
registration by the run's tracking (:func:`mirror_version`), after each later change by the
registry itself (:func:`sync_model`, called from :mod:`engine.tracking.registry_mirror`).

MLflow's registry needs a database-backed store (the default sqlite:///... one, or a server
with a database)."""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING, Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion as ModelVersionEntity
from mlflow.exceptions import MlflowException

from engine.errors import first_line
from engine.tracking.mlflow_store import TrackingUnavailable, connect

if TYPE_CHECKING:
    from engine.deploy.registry import ModelVersion

ENGINE_VERSION_TAG = "engine.version"


def mirror_version(client: MlflowClient, uri: str, entry: dict[str, Any],
                   model_uri: str) -> dict[str, Any]:
    """Register ``model_uri`` in the registry at ``uri`` under the engine entry's name, point
    its aliases at the new version; the MLflow name, version and aliases."""
    name = str(entry["name"])
    mlflow.set_registry_uri(uri)
    version = _register(model_uri, name, int(entry["version"]))
    aliases = [str(alias) for alias in entry.get("aliases", [])]
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version.version)
    return {"name": name, "version": int(version.version), "aliases": aliases}


def sync_model(uri: str, name: str, versions: list[tuple[ModelVersion, dict[str, Any]]],
               used: set[str]) -> str | None:
    """Mirror the engine's model ``name`` in the registry at ``uri``: each of ``versions``
    (an engine version and its run's mlflow.json) registered there once, found by its run, and
    MLflow's aliases of ``name`` made the engine's; an alias the engine has used (``used``) that
    no version mirrored here holds now is removed. None, or why it could not be done."""
    try:
        client = connect(uri)
        mlflow.set_tracking_uri(uri)  # where register_model finds the logged model
        mlflow.set_registry_uri(uri)
        held_by_run = {found.run_id: int(found.version)
                       for found in client.search_model_versions(f"name = '{name}'")}
        wanted: dict[str, int] = {}
        for version, logged in versions:
            number = held_by_run.get(logged["run_id"])
            if number is None:
                number = int(_register(logged["model_uri"], name, version.version).version)
            wanted |= {alias: number for alias in version.aliases}
        held = {alias: int(number)
                for alias, number in client.get_registered_model(name).aliases.items()}
        for alias in sorted((held.keys() & used) - wanted.keys()):
            client.delete_registered_model_alias(name, alias)
        for alias, number in sorted(wanted.items()):
            if held.get(alias) != number:
                client.set_registered_model_alias(name, alias, str(number))
    except (TrackingUnavailable, MlflowException, OSError) as error:
        return first_line(error)
    return None


def _register(model_uri: str, name: str, engine_version: int) -> ModelVersionEntity:
    """A new MLflow version of ``name`` for the logged ``model_uri``, tagged with the engine's
    version; MLflow's own lines about it kept off the engine's stderr."""
    with contextlib.redirect_stderr(io.StringIO()):
        return mlflow.register_model(model_uri, name,
                                     tags={ENGINE_VERSION_TAG: str(engine_version)})
