"""Hydra finds config sources only in the ``hydra_plugins`` package: the engine's source of the
schema's defaults (``engine-schema://``, see engine.config.defaults) is named here. Hydra imports
this module on every start; it imports no schema until a default is loaded."""

from __future__ import annotations

from engine.config.defaults import SchemaDefaults

__all__ = ["SchemaDefaults"]
