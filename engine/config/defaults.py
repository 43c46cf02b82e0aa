"""The one home of every default: the schema's models (``engine/config/schema/``).

Their defaults are stored as Hydra config nodes that the shipped files extend: a group file
(``split/default.yaml``) lists ``/split_defaults@_here_`` first and states only what it changes,
as a user's own group file does. Every key still exists in the composed config, so any of them
is overridden on the command line without '+', and ``--cfg job`` or ``python -m engine schema
--effective`` shows them all with their values. The nodes are root-level configs, not a group,
so ``--help`` does not list them as options.
"""

from __future__ import annotations

from typing import Any

NODE_SUFFIX = "_defaults"


def store_schema_defaults() -> None:
    """Store ``<section>_defaults`` for each defaulted section (idempotent: Hydra's store
    replaces a node of the same name)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for section, node in schema_defaults().items():
        store.store(name=f"{section}{NODE_SUFFIX}", node=node)


def schema_defaults() -> dict[str, dict[str, Any]]:
    """Each section's defaults as plain values; ``root`` holds the top-level keys (seed, ...).
    ``dataset_keys`` is every key a dataset of any source may hold, as null (the schema's
    default for it): a user's dataset file that states only ``source``, ``path`` and ``target``
    still takes the other keys without '+'."""
    from engine.config.schema import (
        DeployConfig,
        ExperimentConfig,
        MetricsConfig,
        MonitorConfig,
        QualityConfig,
        SplitConfig,
        TuneConfig,
    )
    from engine.config.schema.dataset import FileDataset, SklearnDataset, SqlDataset

    sections = {"split": SplitConfig(), "metrics": MetricsConfig(), "tune": TuneConfig(),
                "deploy": DeployConfig(), "monitor": MonitorConfig(), "quality": QualityConfig()}
    keys = [name for model in (FileDataset, SqlDataset, SklearnDataset)
            for name in model.model_fields]
    root = {name: ExperimentConfig.model_fields[name].default
            for name in ("seed", "n_jobs", "report", "allowed_targets")}
    return {"dataset_keys": dict.fromkeys(keys), "root": root,
            **{name: model.model_dump(mode="json") for name, model in sections.items()}}
