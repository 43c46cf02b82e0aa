"""Composing the experiment config exactly as the CLI does, for sweeps' preflight and tests.

The engine's own ``conf/`` comes first; a user's folder of config groups (``--config-dir`` or
``$ENGINE_CONFIG_DIR``, never the working directory) adds options beside it, and its optional
``project/default.yaml`` sets project-wide keys such as ``allowed_targets``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import (
    InterpolationKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from engine.config.hydra_errors import interpolation_error
from engine.errors import ConfigError, did_you_mean, first_line, options_hint

if TYPE_CHECKING:
    from hydra.conf import HydraConf

    from engine.config.spec import ExperimentSpec

CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"
CONFIG_NAME = "config"
CONFIG_DIR_VARIABLE = "ENGINE_CONFIG_DIR"


def user_config_dir(given: str | None = None) -> Path | None:
    """The user's config folder: ``given`` (``--config-dir``), else ``$ENGINE_CONFIG_DIR``, else
    none; a folder that does not exist is a ConfigError."""
    source = "--config-dir" if given is not None else CONFIG_DIR_VARIABLE
    value = given if given is not None else os.environ.get(CONFIG_DIR_VARIABLE) or None
    if value is None:
        return None
    directory = Path(value).expanduser().resolve()
    if not directory.is_dir():
        raise ConfigError(f"{source} {value}: no such directory ({directory}). Give the folder "
                          "that holds your config groups, e.g. my_conf for "
                          "my_conf/dataset/churn.yaml.")
    shadowed = sorted(str(path.relative_to(directory)) for path in directory.glob("*/*.yaml")
                      if (CONFIG_DIR / path.relative_to(directory)).is_file())
    if shadowed:
        group, name = Path(shadowed[0]).parent.name, Path(shadowed[0]).stem
        raise ConfigError(
            f"{source} {value}: {', '.join(shadowed)} has the name of an option the engine ships "
            f"({group}={name}), which would be chosen instead of yours. Rename yours (e.g. "
            f"{group}/my_{name}.yaml) and choose it by that name."
        )
    return directory


def config_dirs(hydra_cfg: DictConfig | HydraConf) -> list[Path]:
    """The folders of config files Hydra searched, in its order: the engine's ``conf/``, then
    the user's (``--config-dir``, ``hydra.searchpath``)."""
    return [Path(source.path) for source in hydra_cfg.runtime.config_sources
            if source.schema == "file"]


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The experiment's config as plain values, interpolations resolved, Hydra's own keys left out.

    An interpolation that cannot resolve (an unset environment variable, a missing key) is a
    ConfigError naming the key.
    """
    keys = [str(key) for key in cfg if key != "hydra"]
    try:
        plain = OmegaConf.to_container(
            OmegaConf.masked_copy(cfg, keys), resolve=True, throw_on_missing=True
        )
    except MissingMandatoryValue as error:
        key = getattr(error, "full_key", None) or "config"
        raise ConfigError(f"{key}: this config needs a value here; set it on the command line "
                          f"({key}=...) or in your config. See the comment at the top of its "
                          "YAML file for an example.") from None
    except InterpolationKeyError as error:
        raise interpolation_error(error) from None
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or "config"
        raise ConfigError(f"{key}: {first_line(error)}.") from None
    return cast(dict[str, Any], plain)


def runtime_choices(hydra_cfg: DictConfig | HydraConf) -> dict[str, str | None]:
    """``hydra.runtime.choices`` as a plain dict: the option each config group chose, or None."""
    return cast(dict[str, str | None], OmegaConf.to_container(hydra_cfg.runtime.choices))


def spec_from_hydra(cfg: DictConfig, choices: Mapping[str, str | None],
                    search: Sequence[Path] = (CONFIG_DIR,)) -> ExperimentSpec:
    """The spec for a config Hydra composed; ``choices`` is hydra.runtime.choices and
    ``search`` the folders its config files came from (:func:`config_dirs`)."""
    from engine.config.spec import spec_from_config  # pydantic stays out of --help

    config = resolved_config(cfg)
    names = (config.get("tune") or {}).get("models") or []
    chosen = {k: v for k, v in choices.items() if v is not None}
    # The family the `model` group chose keeps this run's overrides (model.search_space.C.high=..)
    candidates = {
        name: config["model"] if name == chosen.get("model") else candidate_model(cfg, name, search)
        for name in (names if isinstance(names, list) else [])
    }
    return spec_from_config(config, chosen, candidates=candidates)


def candidate_model(cfg: DictConfig, name: str,
                    search: Sequence[Path] = (CONFIG_DIR,)) -> dict[str, Any]:
    """The ``model=<name>`` config section, resolved against this run's config (``${seed}``),
    for a search across model families (``tune.models``); ``search`` are the folders of config
    groups, the engine's first, as Hydra searches them."""
    options = sorted({path.stem for folder in search for path in (folder / "model").glob("*.yaml")})
    if name not in options:
        raise ConfigError(
            f"tune.models: no model config '{name}'.{did_you_mean(name, options)} "
            f"{options_hint(options)}"
        )
    root = OmegaConf.masked_copy(cfg, [str(key) for key in cfg if key not in ("hydra", "model")])
    OmegaConf.set_struct(root, False)
    root.model = _model_file(name, search)
    try:
        return cast(dict[str, Any], OmegaConf.to_container(root.model, resolve=True))
    except OmegaConfBaseException as error:
        raise ConfigError(f"tune.models: model={name}: {first_line(error)}.") from None


def _model_file(name: str, search: Sequence[Path]) -> DictConfig:
    """``model/<name>.yaml`` (the first found in ``search``) merged over the model configs its
    ``defaults`` list names."""
    path = next(folder / "model" / f"{name}.yaml" for folder in search
                if (folder / "model" / f"{name}.yaml").is_file())
    own = OmegaConf.load(path)
    if not isinstance(own, DictConfig):
        raise ConfigError(f"tune.models: model={name}: {path} holds a list; a model config is a "
                          "mapping of _target_ and parameters.")
    defaults = own.pop("defaults", [])
    parents = [_model_file(parent, search) for parent in defaults if parent != "_self_"]
    return cast(DictConfig, OmegaConf.merge(*parents, own))


def check_hydra_targets(cfg: DictConfig) -> None:
    """Each ``_target_`` in Hydra's own config (``hydra.callbacks.<name>``, ``hydra.sweeper``,
    ``hydra.launcher``) names a class of the kind its place takes, from the allow-list (see
    :func:`engine.config.targets.hydra_kind`); run on a composed config before Hydra
    instantiates any of them."""
    from engine.config.targets import hydra_kind, import_target

    allowed = _allowed_targets(cfg)
    for place in _target_places(OmegaConf.to_container(cfg.hydra, resolve=False), "hydra"):
        key = f"{place}._target_"
        try:
            target = OmegaConf.select(cfg, key)
        except OmegaConfBaseException as error:
            raise ConfigError(f"{key}: {first_line(error)}.") from None
        import_target(target, key, allowed, kind=hydra_kind(place))


def _target_places(node: object, path: str) -> Iterator[str]:
    """The key of every mapping under ``node`` that holds a ``_target_``."""
    if isinstance(node, Mapping):
        if "_target_" in node:
            yield path
        for name, value in node.items():
            yield from _target_places(value, f"{path}.{name}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _target_places(value, f"{path}[{index}]")


def _allowed_targets(cfg: DictConfig) -> tuple[str, ...]:
    """The user's ``allowed_targets`` prefixes (none while the key is malformed: the schema
    reports that)."""
    value = OmegaConf.select(cfg, "allowed_targets", throw_on_resolution_failure=False)
    if not isinstance(value, ListConfig):
        return ()
    try:
        listed = OmegaConf.to_container(value, resolve=True)
    except OmegaConfBaseException:
        return ()
    return tuple(prefix for prefix in cast(list[Any], listed) if isinstance(prefix, str))


@contextmanager
def initialize(config_dir: Path | None = None) -> Iterator[None]:
    """Hydra's compose API set up as the CLI sets it up: the engine's conf/, and the user's
    ``config_dir`` after it, as ``--config-dir`` adds it."""
    from hydra import initialize_config_dir
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        if config_dir is not None:
            search_path = create_config_search_path(str(CONFIG_DIR))
            search_path.prepend(provider="command-line", path=f"file://{config_dir}",
                                anchor=SearchPathQuery(provider="schema"))
            GlobalHydra.instance().clear()
            Hydra.create_main_hydra2(task_name="app", config_search_path=search_path)
        yield


def compose_spec(overrides: Sequence[str] = (), *,
                 config_dir: str | None = None) -> ExperimentSpec:
    """Compose ``conf/`` (and the user's folder: ``config_dir``, else ``$ENGINE_CONFIG_DIR``)
    with command-line style overrides and return the spec."""
    from hydra import compose

    with initialize(user_config_dir(config_dir)):
        cfg = compose(CONFIG_NAME, overrides=list(overrides), return_hydra_config=True)
    return spec_from_hydra(cfg, runtime_choices(cfg.hydra), config_dirs(cfg.hydra))
