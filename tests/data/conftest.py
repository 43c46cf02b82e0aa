"""Fixtures: the shipped dataset configs, composed as Hydra would, and the shared data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from engine.config.schema import parse_dataset
from engine.data import load_dataset as load_parsed
from engine.data.dataset import Dataset
from tests.conftest import REPO as PROJECT
from tests.conftest import SHARED_DATA

DATASET_CONFIGS = PROJECT / "engine" / "conf" / "dataset"

ComposeConfig = Callable[[str], dict[str, Any]]


@pytest.fixture
def dataset_config() -> ComposeConfig:
    """``conf/dataset/<name>.yaml`` as the plain dict the engine receives, paths resolved."""

    def compose(name: str) -> dict[str, Any]:
        root = OmegaConf.create(
            {
                "paths": {"shared_data": str(SHARED_DATA)},
                "dataset": OmegaConf.load(DATASET_CONFIGS / f"{name}.yaml"),
            }
        )
        return OmegaConf.to_container(root.dataset, resolve=True)

    return compose


@pytest.fixture
def shared_dataset_config(dataset_config: ComposeConfig) -> ComposeConfig:
    """Like ``dataset_config`` for a file in ../shared/data; skips when that file is absent."""

    def compose(name: str) -> dict[str, Any]:
        config = dataset_config(name)
        if not Path(config["path"]).exists():
            pytest.skip(f"{config['path']} is not present")
        return config

    return compose


def load_dataset(values: dict[str, Any], *, seed: int) -> Dataset:
    """The dataset config as a user writes it, through the schema, into the loader."""
    return load_parsed(parse_dataset(values), seed=seed)
