"""The engine's registry entry mirrored in MLflow's model registry: the same name, a version
of the logged model tagged with the engine's version number, and the same aliases.

MLflow's registry needs a database-backed store (the default sqlite:///... one, or a server
with a database)."""

from __future__ import annotations

from typing import Any

import mlflow
from mlflow import MlflowClient

ENGINE_VERSION_TAG = "engine.version"


def mirror_version(client: MlflowClient, uri: str, entry: dict[str, Any],
                   model_uri: str) -> dict[str, Any]:
    """Register ``model_uri`` in the registry at ``uri`` under the engine entry's name, point
    its aliases at the new version; the MLflow name, version and aliases."""
    name = str(entry["name"])
    mlflow.set_registry_uri(uri)
    version = mlflow.register_model(model_uri, name,
                                    tags={ENGINE_VERSION_TAG: str(entry["version"])})
    aliases = [str(alias) for alias in entry.get("aliases", [])]
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version.version)
    return {"name": name, "version": int(version.version), "aliases": aliases}
