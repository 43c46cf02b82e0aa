"""The one home of every default: the schema's models (``engine/config/schema/``).

Their defaults are Hydra configs that the shipped files extend: a group file
(``split/default.yaml``) lists ``/split_defaults@_here_`` first and states only what it changes,
as a user's own group file does. Every key still exists in the composed config, so any of them
is overridden on the command line without '+', and ``--cfg job`` or ``python -m engine schema
--effective`` shows them all with their values.

They come from :class:`SchemaDefaults`, a Hydra config source (``engine-schema://``, which
``hydra_plugins/engine_schema_defaults.py`` puts on the search path) that builds a config from
the schema only when Hydra loads it. Hydra copies its config sources each time it lists a group
(a hundred times for ``--help``), so configs held in its ConfigStore would be copied with them; a
source that holds none costs nothing to copy. The configs are root-level, not a group, so
``--help`` does not list them.
"""

from __future__ import annotations

from typing import Any

from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource

SUFFIX = "_defaults"


class SchemaDefaults(ConfigSource):
    """``<section>_defaults`` for each defaulted section of the schema."""

    @staticmethod
    def scheme() -> str:
        return "engine-schema"

    def load_config(self, config_path: str) -> ConfigResult:
        from omegaconf import OmegaConf

        name = self._normalize_file_name(config_path)[: -len(".yaml")]
        sections = schema_defaults()
        if not name.endswith(SUFFIX) or name[: -len(SUFFIX)] not in sections:
            raise ConfigLoadError(f"engine-schema: no config named {name}")
        return ConfigResult(config=OmegaConf.create(sections[name[: -len(SUFFIX)]]),
                            path=f"{self.scheme()}://{self.path}", provider=self.provider,
                            header={"package": None})

    def available(self) -> bool:
        return True

    def is_group(self, config_path: str) -> bool:
        return config_path.strip("/") == ""

    def is_config(self, config_path: str) -> bool:
        return config_path.strip("/").removesuffix(".yaml") in _names()

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        if config_path.strip("/") or results_filter == ObjectType.GROUP:
            return []
        return sorted(_names())


def _names() -> set[str]:
    return {f"{section}{SUFFIX}" for section in SECTIONS}


SECTIONS = ("dataset_keys", "root", "split", "metrics", "tune", "deploy", "monitor", "quality",
            "lifecycle")


def schema_defaults() -> dict[str, dict[str, Any]]:
    """Each section's defaults as plain values; ``root`` holds the top-level keys (seed, ...).
    ``dataset_keys`` is every key a dataset of any source may hold, as null (the schema's
    default for it): a user's dataset file that states only ``source``, ``path`` and ``target``
    still takes the other keys without '+'."""
    from engine.config.schema import (
        DeployConfig,
        ExperimentConfig,
        LifecycleConfig,
        MetricsConfig,
        MonitorConfig,
        QualityConfig,
        SplitConfig,
        TuneConfig,
    )
    from engine.config.schema.dataset import FileDataset, SklearnDataset, SqlDataset

    sections = {"split": SplitConfig(), "metrics": MetricsConfig(), "tune": TuneConfig(),
                "deploy": DeployConfig(), "monitor": MonitorConfig(), "quality": QualityConfig(),
                "lifecycle": LifecycleConfig()}
    keys = [name for model in (FileDataset, SqlDataset, SklearnDataset)
            for name in model.model_fields]
    root = {name: ExperimentConfig.model_fields[name].default
            for name in ("budget", "seed", "n_jobs", "report", "allowed_targets")}
    return {"dataset_keys": dict.fromkeys(keys), "root": root,
            **{name: model.model_dump(mode="json") for name, model in sections.items()}}
