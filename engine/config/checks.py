"""Type checks of config values that any module can use without heavy imports (the CLI's
``--help`` path reaches them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import ConfigError, did_you_mean, options_hint


def check_flag(value: Any, key: str) -> bool:
    """``value`` if it is a boolean, else a ConfigError naming ``key``."""
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: must be true or false; got {value!r}.")
    return value


def check_mapping(value: Any, key: str, example: str) -> dict[str, Any]:
    """``value`` as a dict (``{}`` for null), else a ConfigError naming ``key`` with an example."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{key}: expected a mapping, got {value!r}. Example: '{key}={example}'.")
    return dict(value)


def check_keys(mapping: Mapping[str, Any], valid: Iterable[str], prefix: str) -> None:
    """Refuse a key of ``mapping`` that is not ``valid``: ``<prefix><key>: unknown key.`` with
    did-you-mean and the valid keys."""
    valid = tuple(valid)
    for name in mapping:
        if name not in valid:
            raise ConfigError(f"{prefix}{name}: unknown key.{did_you_mean(str(name), valid)} "
                              f"{options_hint(valid)}")
