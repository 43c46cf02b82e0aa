"""check_quality: real datasets pass the defaults, planted problems are found and reported."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from engine.config.schema import QualityConfig, parse_section
from engine.data import Dataset, check_quality
from engine.errors import ConfigError, DataError
from tests.data.conftest import load_dataset

SKLEARN_LOADERS = ("iris", "wine", "breast_cancer", "digits", "diabetes")


def sklearn_dataset(loader: str) -> Dataset:
    return load_dataset({"name": loader, "source": "sklearn", "loader": loader}, seed=0)


def with_column(data: Dataset, name: str, values: object) -> Dataset:
    """A copy of ``data`` with one more feature column."""
    return dataclasses.replace(data, X=data.X.assign(**{name: values}))


def by_check(report, check: str) -> dict[str | None, object]:
    return {f.column: f for f in report.findings if f.check == check}


@pytest.mark.parametrize("loader", SKLEARN_LOADERS)
def test_bundled_datasets_pass_the_defaults(loader: str) -> None:
    report = check_quality(sklearn_dataset(loader), quality({}), seed=0)
    report.raise_for_failures("error")
    assert report.summary["rows"] == len(sklearn_dataset(loader).y)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "rows", "task"),
    [
        ("adult", 48842, "binary"),
        ("german_credit", 1000, "binary"),
        ("california_housing", 20640, "regression"),
        ("titanic", 891, "binary"),
        ("wine_quality_red", 1599, "multiclass"),
        ("pima_diabetes", 768, "binary"),
    ],
)
def test_shared_datasets_pass_the_defaults(shared_dataset_config, name, rows, task) -> None:
    data = load_dataset(shared_dataset_config(name), seed=0)
    report = check_quality(data, quality({}), seed=0)
    report.raise_for_failures("error")
    assert (report.summary["rows"], report.summary["task"]) == (rows, task)
    assert not by_check(report, "leakage")


@pytest.mark.shared_data
def test_titanic_without_the_config_drops_warns_of_cabin_and_ids(shared_dataset_config) -> None:
    """Cabin, missing for 77 % of passengers, is a warning by default (the run goes on), and an
    error, failing the run, when the user asks for one."""
    data = load_dataset({**shared_dataset_config("titanic"), "drop": []}, seed=0)
    report = check_quality(data, quality({}), seed=0)
    assert set(by_check(report, "id_like_columns")) == {"PassengerId", "Name"}
    cabin = by_check(report, "missing_values")["Cabin"]
    assert (cabin.severity, cabin.value) == ("warning", 0.771044)
    assert "features=auto imputes it and adds a missing indicator" in cabin.message
    report.raise_for_failures("error")
    strict = check_quality(data, quality({"severity": {"missing_values": "error"}}), seed=0)
    with pytest.raises(
        DataError,
        match=r"(?s)\[error\] missing_values: column 'Cabin' is missing in 77.1% of rows "
        r"\(687 of 891\).*set quality.severity.missing_values=warning or quality.fail_on=never",
    ):
        strict.raise_for_failures("error")


@pytest.mark.shared_data
def test_adult_summary(shared_dataset_config) -> None:
    report = check_quality(load_dataset(shared_dataset_config("adult"), seed=0), quality({}),
                           seed=0)
    summary = report.summary
    assert summary["class_counts"] == {"<=50K": 37155, ">50K": 11687}
    assert (summary["numeric_columns"], summary["categorical_columns"]) == (6, 8)
    assert summary["missing_cells"] == 2799 + 2809 + 857
    assert by_check(report, "duplicate_rows")[None].value == summary["duplicate_rows"] == 52


@pytest.mark.parametrize(
    ("loader", "leak"),
    [
        ("breast_cancer", lambda y: y + np.random.default_rng(0).normal(0, 0.01, len(y))),
        ("iris", lambda y: y.map({0: "setosa", 1: "versicolor", 2: "virginica"}).astype("str")),
        ("diabetes", lambda y: y + np.random.default_rng(0).normal(0, 0.01, len(y))),
    ],
    ids=["binary-noisy-copy", "multiclass-text-copy", "regression-noisy-copy"],
)
def test_planted_leak_is_flagged(loader: str, leak) -> None:
    data = sklearn_dataset(loader)
    report = check_quality(with_column(data, "leak", leak(data.y)), quality({}), seed=0)
    assert list(by_check(report, "leakage")) == ["leak"]
    assert by_check(report, "leakage")["leak"].value >= 0.98
    with pytest.raises(
        DataError,
        match=r"(?s)\[error\] leakage: column 'leak' alone predicts target 'target' .*"
        r"set quality.severity.leakage=warning or quality.fail_on=never",
    ):
        report.raise_for_failures("error")


def test_severity_override_and_fail_on() -> None:
    data = sklearn_dataset("breast_cancer")
    leaky = with_column(data, "leak", data.y.astype(float))
    report = check_quality(leaky, quality({"severity": {"leakage": "warning"}}), seed=0)
    report.raise_for_failures("error")
    assert [f.check for f in report.failing("warning")] == ["leakage"]
    assert report.failing("never") == []
    with pytest.raises(DataError, match=r"set quality.severity.leakage=info or quality.fail_on"):
        report.raise_for_failures("warning")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"severity": {"duplicates": "error"}}, r"quality.severity: unknown check 'duplicates'. "
         r"Did you mean 'duplicate_rows'\?"),
        ({"fail_on": "errors"}, r"quality.fail_on: unknown value 'errors'. Did you mean 'error'\?"),
        ({"severity": {"leakage": "warn"}}, r"quality.severity.leakage: unknown severity 'warn'. "
         r"Did you mean 'warning'\?"),
        ({"max_missing_fraction": 5}, r"quality.max_missing_fraction: 5 is not a number in"),
    ],
)  # fmt: skip
def test_bad_settings_are_config_errors(settings, message) -> None:
    with pytest.raises(ConfigError, match=message):
        check_quality(sklearn_dataset("iris"), quality(settings), seed=0)


def quality(values: dict[str, Any]) -> QualityConfig:
    """The ``quality`` group as the schema reads it (a bad value raises here)."""
    return parse_section(QualityConfig, values, "quality.")


def small_dataset(**columns: object) -> Dataset:
    """100 rows: a noisy numeric feature plus ``columns``, and a balanced binary target."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"noise": rng.normal(size=100), **columns})
    return Dataset(name="small", X=X, y=pd.Series(np.tile([0, 1], 50), name="y"), task="binary")


def test_missing_values_info_and_warning() -> None:
    mostly_missing = np.where(np.arange(100) < 60, np.nan, 1.0)
    some_missing = np.where(np.arange(100) < 10, np.nan, np.arange(100.0))
    data = small_dataset(mostly=mostly_missing, some=some_missing)
    findings = by_check(check_quality(data, quality({}), seed=0), "missing_values")
    assert (findings["mostly"].severity, findings["mostly"].value) == ("warning", 0.6)
    assert (findings["some"].severity, findings["some"].value) == ("info", 0.1)
    relaxed = check_quality(data, quality({"max_missing_fraction": 0.7}), seed=0)
    assert by_check(relaxed, "missing_values")["mostly"].severity == "info"


def test_constant_and_id_like_columns() -> None:
    names = pd.Series([f"person {i}" for i in range(100)], dtype="str")
    data = small_dataset(
        constant=np.ones(100), customer_id=np.arange(100), name=names, price=np.linspace(0, 1, 100)
    )
    report = check_quality(data, quality({}), seed=0)
    assert set(by_check(report, "constant_columns")) == {"constant"}
    assert set(by_check(report, "id_like_columns")) == {"customer_id", "name"}
    assert report.summary["categorical_columns"] == 1


def test_duplicates_imbalance_and_missing_target() -> None:
    X = pd.DataFrame({"a": np.r_[np.arange(95.0), np.zeros(5)]})
    y = pd.Series([0] * 95 + [1] * 5, name="y")
    X.loc[10:12, "a"] = 0.0  # three copies of row 0, which has target 0
    data = Dataset(name="skewed", X=X, y=y, task="binary", dropped_missing_target=7)
    report = check_quality(data, quality({}), seed=0)
    assert by_check(report, "duplicate_rows")[None].value == 3 + 4
    assert by_check(report, "class_imbalance")[None].value == 19.0
    assert by_check(report, "missing_target")["y"].value == 7
    assert "7 of 107 rows" in by_check(report, "missing_target")["y"].message
    relaxed = check_quality(data, quality({"imbalance_ratio": 20}), seed=0)
    assert not by_check(relaxed, "class_imbalance")


def test_report_is_json_serialisable() -> None:
    report = check_quality(sklearn_dataset("iris"), quality({}), seed=0)
    payload = json.loads(json.dumps(report.to_dict()))
    assert payload["summary"]["class_counts"] == {"0": 50, "1": 50, "2": 50}
    assert payload["findings"][0]["check"] == "duplicate_rows"


def test_outliers_by_robust_z_score() -> None:
    """Six of 100 values far out (6 % > quality.outlier_fraction=0.05) are flagged even though
    they inflate the standard deviation; one in 100 is not; a mostly-zero column (MAD 0) and a
    flag are never judged."""
    base = np.random.default_rng(1).normal(50, 5, 100)
    data = small_dataset(six_far=np.r_[base[:94], [500.0, -400.0] * 3],
                         one_far=np.r_[base[:99], 500.0],
                         mostly_zero=np.r_[np.zeros(90), np.arange(1.0, 11.0) * 1000],
                         flag=np.arange(100) % 3 == 0)
    report = check_quality(data, quality({}), seed=0)
    findings = by_check(report, "outliers")
    assert set(findings) == {"six_far"}
    finding = findings["six_far"]
    assert (finding.severity, finding.value) == ("info", 0.06)
    assert re.match(r"column 'six_far' has 6 of 100 values \(6\.0%\) more than "
                    r"quality.outlier_z=3.5 robust standard deviations", finding.message)
    strict = check_quality(data, quality({"outlier_fraction": 0.005, "outlier_z": 3.5,
                                          "severity": {"outliers": "error"}}), seed=0)
    assert {column: f.severity for column, f in by_check(strict, "outliers").items()} == {
        "six_far": "error", "one_far": "error"}
    with pytest.raises(DataError, match=r"outliers: column 'six_far' has 6 of 100 values"):
        strict.raise_for_failures("error")
    assert not by_check(check_quality(data, quality({"outlier_z": 200}), seed=0), "outliers")
