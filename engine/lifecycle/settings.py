"""A lifecycle's settings: from the champion's own run (``retrain churn@champion``) or from a
lifecycle YAML file (``retrain my_lifecycle.yaml``, the same keys plus ``model``), with
``key=value`` overrides, validated by the ``lifecycle`` schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config.schema import parse_section
from engine.config.schema.lifecycle import LifecycleConfig
from engine.errors import ConfigError, first_line
from engine.tracking.files import default_output_dir, read_yaml
from engine.tracking.records import RESOLVED_CONFIG_FILE

if TYPE_CHECKING:
    from engine.deploy.registry import Registry

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LifecycleSettings:
    """A validated lifecycle: its config, the model it keeps fresh and where things live."""

    config: LifecycleConfig
    name: str
    """The registered model's name."""
    alias: str
    """The alias the gate defends (``champion``)."""
    registry: Path
    state_dir: Path
    origin: str
    """Where the settings came from: the lifecycle file, or the champion's run directory."""

    @property
    def reference(self) -> str:
        """``name@alias``: the champion as the registry names it."""
        return f"{self.name}@{self.alias}"


def load_lifecycle(target: str, overrides: Sequence[str] = (), *,
                   registry: Path | None = None) -> LifecycleSettings:
    """The settings ``target`` names: a lifecycle YAML file, or ``NAME@ALIAS`` whose run's
    recorded ``lifecycle`` section is read; ``overrides`` are ``key=value`` (``gate.alpha=0.01``
    or ``lifecycle.gate.alpha=0.01``). A mistake is a ConfigError of one line."""
    from engine.deploy.registry import Registry, default_registry_path

    registry = registry or default_registry_path()
    path = Path(target)
    if path.suffix in YAML_SUFFIXES:
        values, origin = _from_file(path), str(path)
    else:
        values, origin = _from_run(target, Registry(registry)), target
        values["model"] = target
    config = parse_section(LifecycleConfig, _merged(values, overrides), "lifecycle.")
    if config.model is None:
        raise ConfigError(f"lifecycle file {origin}: no 'model'; name the registered model it "
                          "keeps fresh, e.g. model: churn@champion.")
    name, alias = _model_reference(config.model)
    if alias != config.promote.alias:
        raise ConfigError(f"lifecycle.model {config.model}: the gate defends "
                          f"promote.alias={config.promote.alias}, not {alias}; name the model "
                          f"{name}@{config.promote.alias}, or set "
                          f"lifecycle.promote.alias={alias}.")
    state_dir = Path(config.state_dir) if config.state_dir else \
        default_output_dir() / "lifecycle" / name
    return LifecycleSettings(config=config, name=name, alias=alias, registry=registry,
                             state_dir=state_dir, origin=origin)


def champion_config(run_dir: Path) -> dict[str, Any]:
    """The whole config the champion's run was trained with."""
    path = run_dir / RESOLVED_CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"run {run_dir}: no {RESOLVED_CONFIG_FILE}, so its config cannot be "
                          "retrained; train the champion with python -m engine (which writes "
                          "it) and register that run.")
    config = read_yaml(path)
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: not a mapping of config groups; train the champion again.")
    return config


def _from_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"lifecycle file {path}: no such file (resolved to {path.resolve()}); "
                          "give a lifecycle YAML file, or a registered model as NAME@ALIAS.")
    values = read_yaml(path, fix="Fix the file's YAML.")
    if not isinstance(values, dict):
        raise ConfigError(f"lifecycle file {path}: holds {type(values).__name__}, not a mapping "
                          "of lifecycle keys (model, source, window, triggers, gate, promote).")
    values.pop("defaults", None)
    return values


def _from_run(reference: str, registry: Registry) -> dict[str, Any]:
    """The ``lifecycle`` section the registered model's run recorded (its defaults when the run
    predates the group)."""
    _model_reference(reference)
    if not registry.path.is_file():
        raise ConfigError(f"model '{reference}': no registry at {registry.path} to look it up "
                          "in; register the champion first (python -m engine registry register "
                          "RUN NAME --alias champion), or pass --registry.")
    version = registry.resolve(reference)
    section = champion_config(Path(version.run_dir)).get("lifecycle") or {}
    return dict(section)


def _merged(values: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    dotlist = [item.removeprefix("lifecycle.") for item in overrides]
    for item in dotlist:
        if "=" not in item:
            raise ConfigError(f"lifecycle override {item!r}: write key=value, e.g. "
                              "gate.alpha=0.01 or triggers.when=[drift,decay].")
    try:
        merged = OmegaConf.merge(OmegaConf.create(dict(values)), OmegaConf.from_dotlist(dotlist))
        plain = OmegaConf.to_container(merged, resolve=True)
    except OmegaConfBaseException as error:
        raise ConfigError(f"lifecycle overrides {' '.join(overrides)}: {first_line(error)}; "
                          "write them as key=value, e.g. gate.alpha=0.01.") from None
    return {str(key): value for key, value in plain.items()} if isinstance(plain, dict) else {}


def _model_reference(reference: str) -> tuple[str, str]:
    name, at, alias = reference.removeprefix("models:/").partition("@")
    if not at or not name or not alias:
        raise ConfigError(f"lifecycle.model {reference!r}: name the registered model with the "
                          "alias it defends, NAME@ALIAS (e.g. churn@champion), or give a "
                          "lifecycle YAML file.")
    return name, alias
