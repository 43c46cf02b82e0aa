"""The shipped feature pipelines keep what a missing value says: a missing indicator beside each
imputed numeric column, and a category (or code) of its own for a missing text value.

Read from real CSV files: titanic.csv with Cabin kept (77 % missing text, Age 20 % missing) and
pima_diabetes.csv, whose zero measurements the dataset config reads as missing (Insulin 49 %).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.config.compose import compose_spec
from engine.data import load_dataset
from engine.features.preprocessor import build_preprocessor
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.shared_data


def transformed(dataset: str, features: str, *overrides: str) -> tuple[list[str], np.ndarray]:
    """The feature names and rows ``features`` makes of ``dataset``, as a run composes them."""
    if not (SHARED_DATA / f"{dataset}.csv").exists():
        pytest.skip(f"{SHARED_DATA / dataset}.csv is not present")
    spec = compose_spec([f"dataset={dataset}", f"features={features}",
                         f"paths.shared_data={SHARED_DATA}", *overrides])
    X = load_dataset(spec.dataset, seed=0).X
    preprocessor = build_preprocessor(spec.features, columns=list(X.columns))
    rows = preprocessor.fit_transform(X)
    return list(preprocessor.get_feature_names_out()), np.asarray(rows, dtype=float)


@pytest.mark.parametrize("features", ["auto", "ordinal"])
def test_each_numeric_column_with_missing_values_gets_an_indicator(features: str) -> None:
    names, rows = transformed("pima_diabetes", features)
    indicators = [name for name in names if name.startswith("missingindicator_")]
    assert indicators == [f"missingindicator_{column}" for column in
                          ("Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI")]
    insulin_missing = rows[:, names.index("missingindicator_Insulin")]  # scaled by auto
    assert (insulin_missing == insulin_missing.max()).sum() == 374
    assert not np.isnan(rows).any()


def test_a_missing_text_value_is_a_category_of_its_own() -> None:
    drop = "dataset.drop=[PassengerId,Name,Ticket]"
    names, rows = transformed("titanic", "auto", drop)
    assert rows[:, names.index("Cabin_nan")].sum() == 687
    names, rows = transformed("titanic", "ordinal", drop)
    assert (rows[:, names.index("Cabin")] == -2).sum() == 687
