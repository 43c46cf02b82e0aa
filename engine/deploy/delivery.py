"""The deploy targets that act on the finished run: ``rest`` writes the container of its REST
service, ``registry`` registers it as the next version of a named model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config.schema.deploy import DeployConfig
from engine.deploy.container import write_container
from engine.deploy.registry import Registry


def deliver(run_dir: Path, deploy: DeployConfig, *, default_name: str,
            mirrored_by_run: bool) -> dict[str, Any]:
    """Run the ``rest`` and ``registry`` targets named in ``deploy.targets``; what each made.
    ``mirrored_by_run``: the run's tracking registers the version in MLflow with its aliases
    (a registry left to mirror it would import MLflow in the run's process for nothing)."""
    made: dict[str, Any] = {}
    if "rest" in deploy.targets:
        made["rest"] = write_container(run_dir, port=deploy.rest.port,
                                       base_image=deploy.rest.base_image)
    if "registry" in deploy.targets:
        settings = deploy.registry
        registry = Registry(Path(settings.path) if settings.path else None,
                            mirror=not mirrored_by_run)
        version = registry.register(
            run_dir, settings.name or default_name, alias=settings.alias,
            description=settings.description)
        made["registry"] = {"name": version.name, "version": version.version,
                            "aliases": list(version.aliases)}
    return made
