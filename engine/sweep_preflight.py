"""Composing and checking every job of a sweep before any job runs, so job 37 cannot fail late."""

from __future__ import annotations

from collections.abc import Sequence

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import OmegaConf

from engine.config.compose import CONFIG_DIR, CONFIG_NAME, spec_from_hydra
from engine.config.hydra_errors import user_message
from engine.errors import ConfigError, EngineError
from engine.experiment import validate_spec


def preflight_sweep(overrides: Sequence[str]) -> int:
    """Compose and validate each job's config; return the number of jobs."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        for number, job in enumerate(jobs):
            try:
                cfg = compose(CONFIG_NAME, overrides=list(job), return_hydra_config=True)
                spec = spec_from_hydra(cfg, OmegaConf.to_container(cfg.hydra.runtime.choices))
                validate_spec(spec)
            except (EngineError, HydraException) as error:
                message = user_message(error)
                raise ConfigError(
                    f"sweep job {number} ({' '.join(job)}): {message} No job was started."
                ) from None
    return len(jobs)
