"""Composing and checking what Hydra will run before it runs: every job of a sweep, so job 37
cannot fail late, and the ``_target_``s of Hydra's own config, which Hydra instantiates first.

Hydra's basic sweeper runs the cartesian product of the swept values: every job is checked. The
Optuna sweeper (``hydra/sweeper=optuna``) samples, so each choice and both ends of each range are
checked once instead. A single run has its Hydra callbacks checked (:func:`preflight_run`).
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra import compose
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig

from engine.config.compose import (
    CONFIG_NAME,
    check_hydra_targets,
    config_dirs,
    initialize,
    runtime_choices,
    spec_from_hydra,
    user_config_dir,
)
from engine.config.hydra_errors import user_message
from engine.errors import ConfigError, EngineError
from engine.experiment import validate_spec
from engine.tuning.sweep_space import params_overrides, parse_sweep


def preflight_sweep(overrides: Sequence[str], *, config_dir: str | None = None,
                    config_name: str = CONFIG_NAME) -> int:
    """Compose and validate each job's config (each probe, for Optuna); return how many.

    ``config_dir`` and ``config_name`` are the command line's ``--config-dir`` (else
    ``$ENGINE_CONFIG_DIR``) and ``--config-name``: the user's own group files and primary config,
    found as Hydra finds them.
    """
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    with initialize(user_config_dir(config_dir)):
        if uses_optuna_sweeper(parsed):
            jobs, label = optuna_probe_jobs(parsed, config_name), "optuna sweep check"
        else:
            jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
            label = "sweep job"
        for number, job in enumerate(jobs):
            try:
                cfg = _compose(config_name, job)
                check_hydra_targets(cfg)
                validate_spec(spec_from_hydra(cfg, runtime_choices(cfg.hydra),
                                              config_dirs(cfg.hydra)))
            except (EngineError, HydraException) as error:
                raise ConfigError(
                    f"{label} {number} ({' '.join(job)}): {user_message(error)} No job was started."
                ) from None
    return len(jobs)


def preflight_run(overrides: Sequence[str], *, config_dir: str | None = None,
                  config_name: str = CONFIG_NAME) -> RunMode | None:
    """Compose a single run's config and check the ``_target_``s of Hydra's own config
    (callbacks above all), which Hydra instantiates before the run's own checks can start;
    return its ``hydra.mode`` (None: unset, a single run).

    The engine's own config names only its own callback and sets no mode, so a run that neither
    changes Hydra's config nor reads a user's config folder is not composed twice (a fifth of a
    second saved).
    """
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    if config_dir is None and config_name == CONFIG_NAME and not any(
            o.key_or_group == "hydra" or o.key_or_group.startswith(("hydra.", "hydra/"))
            for o in parsed):
        return None
    with initialize(user_config_dir(config_dir)):
        config = _compose(config_name, overrides)
        check_hydra_targets(config)
        mode: RunMode | None = config.hydra.mode
        return mode


def uses_optuna_sweeper(overrides: Sequence[Override]) -> bool:
    """Whether ``hydra/sweeper=optuna`` is among the overrides."""
    return any(o.key_or_group == "hydra/sweeper" and o.value() == "optuna" for o in overrides)


def optuna_probe_jobs(overrides: Sequence[Override],
                      config_name: str = CONFIG_NAME) -> list[list[str]]:
    """The Optuna sweep's probes: its space is the sweeper's ``params`` and the sweep overrides."""
    fixed = [str(o.input_line) for o in overrides if not o.is_sweep_override()]
    try:
        params = _compose(config_name, fixed).hydra.sweeper.params
    except HydraException as error:
        raise ConfigError(f"{user_message(error)} No job was started.") from None
    space = parse_sweep([*params_overrides(params), *(str(o.input_line) for o in overrides)])
    return space.probe_jobs()


def _compose(config_name: str, job: Sequence[str]) -> DictConfig:
    return compose(config_name, overrides=list(job), return_hydra_config=True)
