"""Hydra finds config sources and search-path plugins only in the ``hydra_plugins`` package: the
engine's source of the schema's defaults (``engine-schema://``, see engine.config.defaults) is
named here, and put on the search path of any composition of the engine's configs (a user's own
primary config that extends ``config`` included). Hydra imports this module on every start; it
imports no schema until a default is loaded."""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from engine.config.defaults import SchemaDefaults

__all__ = ["EngineSchemaSearchPath", "SchemaDefaults"]


class EngineSchemaSearchPath(SearchPathPlugin):
    """Adds ``engine-schema://engine`` where the engine's conf/ is on the search path."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from engine.config.compose import CONFIG_DIR  # imported already by every entry point

        if any(element.path.endswith(str(CONFIG_DIR)) for element in search_path.get_path()):
            search_path.append(provider="engine-schema", path="engine-schema://engine")
