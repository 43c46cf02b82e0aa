"""Composing the experiment config exactly as the CLI does, for sweeps' preflight and tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from engine.errors import ConfigError, did_you_mean, first_line, options_hint

if TYPE_CHECKING:
    from hydra.conf import HydraConf

    from engine.config.spec import ExperimentSpec

CONFIG_DIR = Path(__file__).resolve().parents[1] / "conf"
CONFIG_NAME = "config"


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
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or "config"
        raise ConfigError(f"{key}: {first_line(error)}.") from None
    return cast(dict[str, Any], plain)


def runtime_choices(hydra_cfg: DictConfig | HydraConf) -> dict[str, str | None]:
    """``hydra.runtime.choices`` as a plain dict: the option each config group chose, or None."""
    return cast(dict[str, str | None], OmegaConf.to_container(hydra_cfg.runtime.choices))


def spec_from_hydra(cfg: DictConfig, choices: Mapping[str, str | None]) -> ExperimentSpec:
    """The spec for a config Hydra composed; ``choices`` is hydra.runtime.choices."""
    from engine.config.spec import spec_from_config  # pydantic stays out of --help

    config = resolved_config(cfg)
    names = (config.get("tune") or {}).get("models") or []
    chosen = {k: v for k, v in choices.items() if v is not None}
    # The family the `model` group chose keeps this run's overrides (model.search_space.C.high=..)
    candidates = {
        name: config["model"] if name == chosen.get("model") else candidate_model(cfg, name)
        for name in (names if isinstance(names, list) else [])
    }
    return spec_from_config(config, chosen, candidates=candidates)


def candidate_model(cfg: DictConfig, name: str) -> dict[str, Any]:
    """The ``model=<name>`` config section, resolved against this run's config (``${seed}``),
    for a search across model families (``tune.models``)."""
    options = sorted(path.stem for path in (CONFIG_DIR / "model").glob("*.yaml"))
    if name not in options:
        raise ConfigError(
            f"tune.models: no model config '{name}'.{did_you_mean(name, options)} "
            f"{options_hint(options)}"
        )
    root = OmegaConf.masked_copy(cfg, [str(key) for key in cfg if key not in ("hydra", "model")])
    OmegaConf.set_struct(root, False)
    root.model = _model_file(name)
    try:
        return cast(dict[str, Any], OmegaConf.to_container(root.model, resolve=True))
    except OmegaConfBaseException as error:
        raise ConfigError(f"tune.models: model={name}: {first_line(error)}.") from None


def _model_file(name: str) -> DictConfig:
    """``conf/model/<name>.yaml`` merged over the model configs its ``defaults`` list names."""
    # a shipped model file is a mapping, never a list
    own = cast(DictConfig, OmegaConf.load(CONFIG_DIR / "model" / f"{name}.yaml"))
    defaults = own.pop("defaults", [])
    parents = [_model_file(parent) for parent in defaults if parent != "_self_"]
    return cast(DictConfig, OmegaConf.merge(*parents, own))


def compose_spec(overrides: Sequence[str] = ()) -> ExperimentSpec:
    """Compose ``conf/`` with command-line style overrides and return the spec."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(CONFIG_NAME, overrides=list(overrides), return_hydra_config=True)
    return spec_from_hydra(cfg, runtime_choices(cfg.hydra))
