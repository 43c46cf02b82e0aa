"""One-line messages for user errors: Hydra's composition errors get did-you-mean."""

from __future__ import annotations

from hydra.errors import (
    ConfigCompositionException,
    HydraException,
    MissingConfigException,
    OverrideParseException,
)
from omegaconf.errors import OmegaConfBaseException

from engine.errors import ConfigError, EngineError, did_you_mean, first_line, options_hint


def translate_hydra_error(error: HydraException) -> ConfigError:
    """The ConfigError a user should see for a Hydra composition or override error."""
    if isinstance(error, OverrideParseException):
        reason = (error.message or "cannot parse it").splitlines()[0]
        return ConfigError(
            f"override '{error.override}': {reason}. Write overrides as key=value; quote "
            "values with spaces, brackets or commas for the shell, e.g. 'model.C=[1,2]'."
        )
    if isinstance(error, MissingConfigException) and error.options:
        group, _, option = (error.missing_cfg_file or "").rpartition("/")
        return ConfigError(
            f"{group}={option}: no such option in config group '{group}'."
            f"{did_you_mean(option, error.options)} {options_hint(error.options)}"
        )
    cause = error.__cause__
    if isinstance(error, ConfigCompositionException) and isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None) or getattr(cause, "key", None)
        parent = getattr(cause, "parent_node", None)
        if key and parent is not None and "is not in struct" in str(cause):
            return _unknown_key(str(key), str(cause.key), [str(k) for k in parent])
        if key:
            return ConfigError(f"{key}: {first_line(cause)}.")
    return ConfigError(str(error).split("\nConfig search path:")[0].strip())


def _unknown_key(full_key: str, key: str, siblings: list[str]) -> ConfigError:
    parent = full_key[: -len(key)].rstrip(".")
    suggestion = did_you_mean(key, siblings, prefix=full_key[: -len(key)])
    listing = (f" Keys here: {', '.join(sorted(siblings))}." if siblings else
               f" {parent or 'The config'} has no keys of its own.")
    return ConfigError(
        f"{full_key}: no such key in the config.{suggestion}{listing} To add a key the config "
        f"does not list, prefix it with '+' (+{full_key}=...)."
    )


def user_message(error: Exception) -> str:
    """The one line a user sees for a config, data, request or file-system error."""
    if isinstance(error, HydraException):
        return str(translate_hydra_error(error))
    if isinstance(error, OSError) and not isinstance(error, EngineError):
        return (
            f"{error.strerror or error}: '{error.filename}'. Check paths.output_dir "
            "(or ENGINE_OUTPUT_DIR) and any -o path: each must be a writable directory or file."
        )
    return str(error)
