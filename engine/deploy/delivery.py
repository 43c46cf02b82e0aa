"""The deploy targets that act on the finished run: ``rest`` writes the container of its REST
service, ``registry`` registers it as the next version of a named model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.config.checks import check_mapping
from engine.deploy.container import write_container
from engine.deploy.registry import Registry


def deliver(run_dir: Path, deploy: Mapping[str, Any], *, default_name: str) -> dict[str, Any]:
    """Run the ``rest`` and ``registry`` targets named in ``deploy.targets``; what each made."""
    targets = deploy.get("targets") or []
    made: dict[str, Any] = {}
    if "rest" in targets:
        rest = check_mapping(deploy.get("rest"), "deploy.rest", "{port: 8080}")
        made["rest"] = write_container(run_dir, port=int(rest.get("port", 8080)),
                                       base_image=str(rest.get("base_image",
                                                               "python:3.11-slim")))
    if "registry" in targets:
        settings = check_mapping(deploy.get("registry"), "deploy.registry",
                                 "{name: churn, alias: challenger}")
        path = settings.get("path")
        version = Registry(Path(path) if path else None).register(
            run_dir, str(settings.get("name") or default_name),
            alias=settings.get("alias"), description=str(settings.get("description") or ""))
        made["registry"] = {"name": version.name, "version": version.version,
                            "aliases": list(version.aliases)}
    return made
