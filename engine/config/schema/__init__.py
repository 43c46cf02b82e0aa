"""The config schema: one pydantic model per config group, validated once, before any data.

``parse_experiment`` turns the composed, resolved config into an :class:`ExperimentConfig`;
``parse_section`` does the same for one group (tests, and verbs that read one group). Either
raises a ConfigError whose one line names the key, the bad value and the valid options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from engine.config.schema.base import Section
from engine.config.schema.card import CardConfig
from engine.config.schema.dataset import DatasetConfig, TaggedDataset
from engine.config.schema.deploy import DeployConfig
from engine.config.schema.experiment import ExperimentConfig
from engine.config.schema.features import FeaturesConfig
from engine.config.schema.lifecycle import LifecycleConfig
from engine.config.schema.metrics import MetricsConfig
from engine.config.schema.monitor import MonitorConfig
from engine.config.schema.quality import QualityConfig
from engine.config.schema.split import SplitConfig
from engine.config.schema.tracking import TrackingConfig
from engine.config.schema.translate import config_error
from engine.config.schema.tune import TuneConfig

__all__ = [
    "CardConfig", "DatasetConfig", "DeployConfig", "ExperimentConfig", "FeaturesConfig",
    "LifecycleConfig", "MetricsConfig", "MonitorConfig", "QualityConfig", "SplitConfig",
    "TrackingConfig", "TuneConfig", "json_schema", "parse_dataset", "parse_experiment",
    "parse_section",
]

Model = TypeVar("Model", bound=BaseModel)


def parse_experiment(config: Mapping[str, Any]) -> ExperimentConfig:
    """The whole experiment, every group and every rule that spans groups."""
    return parse_section(ExperimentConfig, config)


def parse_section(model: type[Model], values: Mapping[str, Any] | None, prefix: str = "") -> Model:
    """``values`` as ``model``; ``prefix`` (``"tune."``) is the group's key path in messages."""
    try:
        return model.model_validate(dict(values or {}))
    except ValidationError as error:
        raise config_error(error, model, prefix) from None


class _Dataset(Section):
    dataset: TaggedDataset


def parse_dataset(values: Mapping[str, Any]) -> DatasetConfig:
    """The ``dataset`` group as the model of its ``source``."""
    return parse_section(_Dataset, {"dataset": dict(values)}).dataset


GROUPS: dict[str, Any] = {"dataset": _Dataset, "features": FeaturesConfig, "split": SplitConfig,
                          "metrics": MetricsConfig, "tune": TuneConfig,
                          "deploy": DeployConfig, "monitor": MonitorConfig,
                          "lifecycle": LifecycleConfig, "card": CardConfig,
                          "tracking": TrackingConfig}


def json_schema(group: str | None = None) -> dict[str, Any]:
    """The JSON Schema of a composed experiment config, or of one group's files (so that a YAML
    editor completes and checks ``conf/<group>/*.yaml``)."""
    if group is None:
        schema = _null_blocks(ExperimentConfig.model_json_schema())
        schema["title"] = "engine experiment config"
        return schema
    schema = _null_blocks(GROUPS[group].model_json_schema())
    if group == "dataset":  # the files hold the dataset itself, not a `dataset:` key
        schema = {"$defs": schema["$defs"], **schema["properties"]["dataset"]}
    schema["title"] = f"engine {group} config"
    return schema


def _null_blocks(schema: dict[str, Any]) -> dict[str, Any]:
    """Let a block with defaults (``pick``, ``cv``) be null in a file, as the models allow."""
    for model in [schema, *schema.get("$defs", {}).values()]:
        for name, field in model.get("properties", {}).items():
            if "$ref" in field and isinstance(field.get("default"), dict):
                model["properties"][name] = {"anyOf": [{"$ref": field.pop("$ref")},
                                                       {"type": "null"}], **field}
    return schema
