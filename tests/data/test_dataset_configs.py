"""conf/dataset: every file documents itself, lists every key, and loads."""

from __future__ import annotations

from typing import get_args

import pytest

from engine.config.schema.dataset import DatasetConfig

from .conftest import DATASET_CONFIGS, load_dataset

SOURCE_FIELDS = {get_args(model.model_fields["source"].annotation)[0]: set(model.model_fields)
                 for model in get_args(DatasetConfig)}

CONFIG_NAMES = sorted(path.stem for path in DATASET_CONFIGS.glob("*.yaml"))
BUILT_IN = {
    "iris": (150, 4, "multiclass"),
    "wine": (178, 13, "multiclass"),
    "breast_cancer": (569, 30, "binary"),
    "digits": (1797, 64, "multiclass"),
    "diabetes": (442, 10, "regression"),
    "synthetic_classification": (10_000, 20, "binary"),
    "synthetic_regression": (10_000, 20, "regression"),
    "synthetic_text": (2000, 4, "multiclass"),
}
SHARED = {
    "adult": (48842, 14, "binary"),
    "german_credit": (1000, 20, "binary"),
    "california_housing": (20640, 9, "regression"),
    "titanic": (891, 7, "binary"),
    "wine_quality_red": (1599, 11, "multiclass"),
    "pima_diabetes": (768, 8, "binary"),
}


def test_every_expected_config_is_shipped() -> None:
    assert sorted({*BUILT_IN, *SHARED}) == CONFIG_NAMES


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_config_starts_with_a_comment_and_lists_every_key(name: str, dataset_config) -> None:
    first_line = (DATASET_CONFIGS / f"{name}.yaml").read_text().splitlines()[0]
    assert first_line.startswith("# ") and len(first_line) > 20
    config = dataset_config(name)
    assert set(config) == SOURCE_FIELDS[config["source"]]
    assert config["name"] == name


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_built_in_configs_load(name: str, dataset_config) -> None:
    data = load_dataset(dataset_config(name), seed=0)
    assert (*data.X.shape, data.task) == BUILT_IN[name]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(SHARED))
def test_shared_data_configs_load(name: str, shared_dataset_config) -> None:
    data = load_dataset(shared_dataset_config(name), seed=0)
    assert (*data.X.shape, data.task) == SHARED[name]


@pytest.mark.shared_data
def test_pima_zeros_are_missing_measurements_but_not_missing_pregnancies(
        shared_dataset_config) -> None:
    data = load_dataset(shared_dataset_config("pima_diabetes"), seed=0)
    assert data.X.isna().sum()[lambda counts: counts > 0].to_dict() == {
        "Glucose": 5, "BloodPressure": 35, "SkinThickness": 227, "Insulin": 374, "BMI": 11}
    assert (data.X.Pregnancies == 0).sum() == 111
    assert data.y.value_counts().to_dict() == {0: 500, 1: 268}
