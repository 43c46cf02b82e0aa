"""One-line messages for user errors: Hydra's composition errors get did-you-mean, a config
file's YAML syntax error its file, line and column, an interpolation to a missing key both
keys."""

from __future__ import annotations

import re
from pathlib import Path

from hydra.errors import (
    ConfigCompositionException,
    HydraException,
    MissingConfigException,
    OverrideParseException,
)
from omegaconf import Container, DictConfig, OmegaConf
from omegaconf.errors import InterpolationKeyError, OmegaConfBaseException
from yaml import YAMLError

from engine.config.launchers import missing_launcher
from engine.errors import ConfigError, EngineError, did_you_mean, first_line, options_hint
from engine.tracking.files import yaml_problem

# Every exception that is a user's mistake (the CLI prints user_message and exits 2): the
# engine's own, Hydra's composition errors, a config file's YAML syntax, an interpolation
# that does not resolve, and a path that cannot be read or written.
CONFIG_ERRORS = (EngineError, HydraException, YAMLError, OmegaConfBaseException)
USER_ERRORS = (*CONFIG_ERRORS, OSError)


def translate_hydra_error(error: HydraException) -> ConfigError:
    """The ConfigError a user should see for a Hydra composition or override error."""
    if isinstance(error, OverrideParseException):
        reason = (error.message or "cannot parse it").splitlines()[0]
        return ConfigError(
            f"override '{error.override}': {reason}. Write overrides as key=value; quote "
            "values with spaces, brackets or commas for the shell, e.g. 'model.C=[1,2]'."
        )
    launcher = isinstance(error, MissingConfigException) and missing_launcher(
        error.missing_cfg_file)
    if launcher:
        return launcher
    if isinstance(error, MissingConfigException) and error.options:
        group, _, option = (error.missing_cfg_file or "").rpartition("/")
        return ConfigError(
            f"{group}={option}: no such option in config group '{group}'."
            f"{did_you_mean(option, error.options)} {options_hint(error.options)}"
        )
    cause = error.__cause__
    if isinstance(cause, YAMLError):
        return yaml_syntax_error(cause)
    if isinstance(error, ConfigCompositionException) and isinstance(cause, InterpolationKeyError):
        return interpolation_error(cause)
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


def yaml_syntax_error(error: YAMLError, path: Path | str | None = None) -> ConfigError:
    """A config file (``path``, else the one the parser names) that is not valid YAML: the
    file, line and column, and what is wrong."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    name = path or (mark.name if mark is not None else None)
    return ConfigError(f"{f'{name}: ' if name else ''}not valid YAML: {yaml_problem(error)}. "
                       "Fix the file there (indent with spaces, quote values holding ': ', "
                       "close every [ and {).")


def interpolation_error(error: InterpolationKeyError, key: str | None = None) -> ConfigError:
    """``${paths.nope}`` names no key: the key whose value holds it, the missing key, and the
    nearest keys that exist."""
    key = key or getattr(error, "full_key", None)
    match = re.search(r"Interpolation key '([^']*)'", str(error))
    missing = match.group(1) if match else first_line(error)
    parent = getattr(error, "parent_node", None)
    root = parent._get_root() if isinstance(parent, Container) else None
    where = f"{key}: " if key else "a value in the config: "
    return ConfigError(
        f"{where}the interpolation ${{{missing}}} names a key the config does not have."
        f"{_nearest_key(missing, root)} Fix the reference, or add that key (+{missing}=...)."
    )


def _nearest_key(missing: str, root: Container | None) -> str:
    """Did-you-mean among the keys beside ``missing`` (``paths.*`` for ``paths.nope``)."""
    if root is None:
        return ""
    parent_key, _, _ = missing.rpartition(".")
    node = OmegaConf.select(root, parent_key) if parent_key else root
    if not isinstance(node, DictConfig):
        return ""
    prefix = f"{parent_key}." if parent_key else ""
    siblings = [f"{prefix}{name}" for name in map(str, node)]
    listing = f" Keys in {parent_key}: {', '.join(siblings)}." if parent_key else ""
    return f"{did_you_mean(missing, siblings)}{listing}"


def user_message(error: Exception) -> str:
    """The one line a user sees for a config, data, request or file-system error."""
    if isinstance(error, HydraException):
        return str(translate_hydra_error(error))
    if isinstance(error, YAMLError):
        return str(yaml_syntax_error(error))
    if isinstance(error, InterpolationKeyError):
        return str(interpolation_error(error))
    if isinstance(error, OmegaConfBaseException):
        key = getattr(error, "full_key", None)
        return f"{key + ': ' if key else ''}{first_line(error)}."
    if isinstance(error, OSError) and not isinstance(error, EngineError):
        return (
            f"{error.strerror or error}: '{error.filename}'. Check paths.output_dir "
            "(or ENGINE_OUTPUT_DIR) and any -o path: each must be a writable directory or file."
        )
    return str(error)
