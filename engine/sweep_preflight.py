"""Composing and checking every job of a sweep before any job runs, so job 37 cannot fail late.

Hydra's basic sweeper runs the cartesian product of the swept values: every job is checked. The
Optuna sweeper (``hydra/sweeper=optuna``) samples, so each choice and both ends of each range are
checked once instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from engine.config.compose import CONFIG_DIR, CONFIG_NAME, spec_from_hydra
from engine.config.hydra_errors import user_message
from engine.errors import ConfigError, EngineError
from engine.experiment import validate_spec
from engine.tuning.sweep_space import params_overrides, parse_sweep


def preflight_sweep(overrides: Sequence[str]) -> int:
    """Compose and validate each job's config (each probe, for Optuna); return how many."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        if uses_optuna_sweeper(parsed):
            jobs, label = optuna_probe_jobs(parsed), "optuna sweep check"
        else:
            jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
            label = "sweep job"
        for number, job in enumerate(jobs):
            try:
                cfg = _compose(job)
                choices = OmegaConf.to_container(cfg.hydra.runtime.choices)
                validate_spec(spec_from_hydra(cfg, choices))
            except (EngineError, HydraException) as error:
                raise ConfigError(
                    f"{label} {number} ({' '.join(job)}): {user_message(error)} No job was started."
                ) from None
    return len(jobs)


def uses_optuna_sweeper(overrides: Sequence[Override]) -> bool:
    """Whether ``hydra/sweeper=optuna`` is among the overrides."""
    return any(o.key_or_group == "hydra/sweeper" and o.value() == "optuna" for o in overrides)


def optuna_probe_jobs(overrides: Sequence[Override]) -> list[list[str]]:
    """The Optuna sweep's probes: its space is the sweeper's ``params`` and the sweep overrides."""
    fixed = [str(o.input_line) for o in overrides if not o.is_sweep_override()]
    try:
        params = _compose(fixed).hydra.sweeper.params
    except HydraException as error:
        raise ConfigError(f"{user_message(error)} No job was started.") from None
    space = parse_sweep([*params_overrides(params), *(str(o.input_line) for o in overrides)])
    return space.probe_jobs()


def _compose(job: Sequence[str]) -> DictConfig:
    return compose(CONFIG_NAME, overrides=list(job), return_hydra_config=True)
