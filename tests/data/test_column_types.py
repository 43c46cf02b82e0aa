"""Column types a user expects from their own CSV: dates as date features, numbers with ``?``
markers and high-cardinality codes reported with the line that fixes them."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from engine.config.schema.quality import QualityConfig
from engine.data import check_quality
from engine.data.column_types import type_columns
from engine.deploy.batch_predict import predict_rows
from engine.deploy.bundle import load_bundle
from tests.conftest import only_run_dir, run_main
from tests.data.churn_csv import UNKNOWN_CHARGES, churn_frame, write_churn_csv
from tests.data.conftest import load_dataset


@pytest.fixture(scope="module")
def churn_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_churn_csv(tmp_path_factory.mktemp("data") / "churn.csv")


def churn_args(path: Path, *extra: str) -> list[str]:
    """A user's own file, on the command line over the titanic config's file keys."""
    return ["dataset=titanic", "dataset.name=churn", f"dataset.path={path}",
            "dataset.target=churned", "dataset.drop=[customer_id]",
            "model=logistic_regression", "split.cv.n_splits=3", "report=false", *extra]


def run_churn(path: Path, output: Path, *extra: str) -> tuple[Path, str]:
    """Run the churn experiment; its run directory and stdout."""
    done = run_main(churn_args(path, *extra), output)
    assert done.returncode == 0, done.stderr
    return only_run_dir(output), done.stdout


def findings(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    report = json.loads((run_dir / "data_report.json").read_text())
    by_check: dict[str, list[dict[str, Any]]] = {}
    for finding in report["findings"]:
        by_check.setdefault(finding["check"], []).append(finding)
    return by_check


def pasted(message: str, key: str) -> list[str]:
    """The override for ``key`` in a finding's message, split as a shell splits a pasted line."""
    match = re.search(rf'"{re.escape(key)}=[^"]*"|{re.escape(key)}=\S+', message)
    assert match, message
    return shlex.split(match.group(0))


@pytest.fixture(scope="module")
def churn_run(churn_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return run_churn(churn_csv, tmp_path_factory.mktemp("out"))


def test_markers_in_a_numeric_column_are_a_finding_with_the_line_that_fixes_them(
        churn_run: tuple[Path, str]) -> None:
    run_dir, stdout = churn_run
    (marker,) = findings(run_dir)["missing_markers"]
    assert marker["severity"] == "warning" and marker["column"] == "monthly_charges"
    assert marker["value"] == UNKNOWN_CHARGES
    assert marker["message"] == (
        f"column 'monthly_charges' holds numbers apart from '?' in {UNKNOWN_CHARGES} rows, so it "
        "was read as text and would be encoded as categories. If those values mark missing "
        "data, read them as missing values with \"dataset.na_values=['?']\".")
    assert "warning missing_markers: column 'monthly_charges'" in stdout


def test_the_pasted_na_values_line_makes_the_column_numeric(
        churn_csv: Path, churn_run: tuple[Path, str], tmp_path: Path) -> None:
    (marker,) = findings(churn_run[0])["missing_markers"]
    run_dir, _ = run_churn(churn_csv, tmp_path, *pasted(marker["message"], "dataset.na_values"))
    assert "missing_markers" not in findings(run_dir)
    features = load_bundle(run_dir).pipeline.named_steps["features"]
    assert "monthly_charges" in features.named_transformers_["numeric"].feature_names_in_
    assert "missingindicator_monthly_charges" in features.get_feature_names_out()
    schema = json.loads((run_dir / "model" / "schema.json").read_text())
    kinds = {column["name"]: column["kind"] for column in schema["columns"]}
    assert kinds["monthly_charges"] == "numeric"


def test_an_iso_date_column_becomes_date_features_not_categories(
        churn_run: tuple[Path, str]) -> None:
    run_dir, _ = churn_run
    names = list(load_bundle(run_dir).pipeline.named_steps["features"].get_feature_names_out())
    assert [name for name in names if name.startswith("signup_date")] == [
        "signup_date_year", "signup_date_month", "signup_date_day", "signup_date_weekday",
        "signup_date_elapsed_days"]
    schema = json.loads((run_dir / "model" / "schema.json").read_text())
    (date,) = [column for column in schema["columns"] if column["name"] == "signup_date"]
    assert date["kind"] == "datetime" and date["categories"] is None


def test_a_high_cardinality_code_is_a_finding(churn_run: tuple[Path, str]) -> None:
    (finding,) = findings(churn_run[0])["high_cardinality"]
    distinct = churn_frame()["referral_code"].nunique()
    assert finding["column"] == "referral_code" and finding["value"] == distinct
    assert finding["message"].startswith(
        f"column 'referral_code' has {distinct} distinct values in 1,000 rows "
        f"({distinct / 1000:.1%}; quality.high_cardinality_fraction=0.5, "
        "quality.high_cardinality_levels=200); as categories most are too rare to learn from")


def test_a_date_column_suggests_a_time_split_that_runs_when_pasted(
        churn_csv: Path, churn_run: tuple[Path, str], tmp_path: Path) -> None:
    (finding,) = findings(churn_run[0])["date_columns"]
    assert finding["severity"] == "info"
    dates = pd.to_datetime(churn_frame()["signup_date"])
    assert finding["message"].startswith(
        f"column 'signup_date' holds dates from {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}; "
        "features=auto turns it into year, month, day, weekday and days since the earliest "
        "training date. To test on the latest rows instead of random ones, split by time: "
        "split=time dataset.time_column=signup_date")
    message = finding["message"]
    run_dir, _ = run_churn(churn_csv, tmp_path, *pasted(message, "split"),
                           *pasted(message, "dataset.time_column"))
    assert json.loads((run_dir / "run.json").read_text())["split"]["test_strategy"] == "time"
    test_rows = pd.read_csv(run_dir / "predictions.csv")["row"]
    assert len(test_rows) == 200
    assert dates.iloc[test_rows].min() >= dates.drop(index=test_rows).max()  # the latest rows
    names = load_bundle(run_dir).pipeline.named_steps["features"].get_feature_names_out()
    assert not [name for name in names if name.startswith("signup_date")]


def test_the_metrics_are_reproducible(churn_csv: Path, churn_run: tuple[Path, str],
                                      tmp_path: Path) -> None:
    again, _ = run_churn(churn_csv, tmp_path)
    first = json.loads((churn_run[0] / "metrics.json").read_text())
    second = json.loads((again / "metrics.json").read_text())
    assert (first["cv"], first["test"]) == (second["cv"], second["test"])


def test_the_bundle_predicts_unseen_and_missing_dates(churn_run: tuple[Path, str]) -> None:
    bundle = load_bundle(churn_run[0])
    rows = churn_frame().head(3).drop(columns=["churned"])
    rows["signup_date"] = ["2031-01-15", None, "1990-02-01"]
    predictions, _ = predict_rows(bundle, rows, keep=["customer_id"])
    assert list(predictions["customer_id"]) == ["C100000", "C100001", "C100002"]
    assert predictions["proba_yes"].between(0, 1).all() and predictions["proba_yes"].nunique() == 3


def test_typing_reads_only_real_iso_dates_and_leaves_typed_columns_alone() -> None:
    frame = pd.DataFrame({
        "iso": ["2024-01-31", "2024-02-01T08:00:00", None],
        "zoned": ["2024-01-31T10:00:00Z", "2024-01-31T10:00:00+01:00", None],
        "not_a_day": ["2024-02-30", "2024-03-01", "2024-03-02"],
        "us_style": ["01/31/2024", "02/01/2024", "02/02/2024"],
        "cast": pd.Categorical(["2024-01-01", "2024-01-02", "2024-01-03"]),
        "target": ["2024-01-01", "2024-01-02", "2024-01-03"],
    })
    typed, types = type_columns(frame, skip=["target"])
    assert types.dates == ("iso", "zoned")
    assert typed["zoned"].iloc[1] == pd.Timestamp("2024-01-31T09:00:00Z")
    assert typed["not_a_day"].iloc[0] == "2024-02-30"
    assert typed["cast"].dtype == "category" and typed["target"].dtype != "datetime64[ns]"
    assert not types.markers


def test_odd_values_count_as_markers_only_in_a_column_almost_all_numbers() -> None:
    numbers = [str(value) for value in range(95)]
    frame = pd.DataFrame({
        "almost": [*numbers, "?", "?", "-", "n.a.", "?"],
        "mixed": [*numbers[:90], *[f"code{index}" for index in range(10)]],
        "dates": [*[f"2024-01-{day:02d}" for day in range(1, 29)] * 3, *["unknown"] * 16],
        "nearly_dates": [*[f"2024-01-{day:02d}" for day in range(1, 26)] * 4],
    })
    frame.loc[[3, 50], "nearly_dates"] = "unknown"
    typed, types = type_columns(frame)
    assert types.markers == {"almost": {"?": 3, "-": 1, "n.a.": 1},
                             "nearly_dates": {"unknown": 2}}
    assert types.kinds == {"almost": "numbers", "nearly_dates": "dates"}
    assert not types.dates and typed["nearly_dates"].iloc[3] == "unknown"


@pytest.mark.parametrize(("config", "fix"), [
    ({"na_values": ["NA?"]}, "\"dataset.na_values=['NA?','?']\""),
    ({"read_options": {"na_values": "none"}}, "\"dataset.read_options.na_values=['none','?']\""),
], ids=["adds-to-na_values", "read_options-wins"])
def test_the_fix_keeps_the_markers_already_configured(tmp_path: Path, config: dict[str, Any],
                                                      fix: str) -> None:
    path = tmp_path / "rows.csv"
    pd.DataFrame({"x": [*map(str, range(40)), "?"], "y": [0, 1] * 20 + [1]}).to_csv(
        path, index=False)
    data = load_dataset({"source": "file", "path": str(path), "target": "y", **config}, seed=0)
    assert data.column_types.fix == f"read them as missing values with {fix}"


def test_a_datetime_column_in_parquet_becomes_date_features(tmp_path: Path) -> None:
    """Datetime dtypes arrive typed; they take the same date block, and the thresholds of the
    new checks are overrides like the others."""
    frame = churn_frame(300).drop(columns=["monthly_charges", "referral_code"])
    frame["signup_date"] = pd.to_datetime(frame["signup_date"])
    path = tmp_path / "churn.parquet"
    frame.to_parquet(path)
    run_dir, stdout = run_churn(path, tmp_path, "quality.severity.date_columns=warning")
    names = load_bundle(run_dir).pipeline.named_steps["features"].get_feature_names_out()
    assert "signup_date_elapsed_days" in names
    assert "warning date_columns: column 'signup_date' holds dates" in stdout


def test_the_high_cardinality_thresholds_are_settings(churn_csv: Path) -> None:
    data = load_dataset({"source": "file", "path": str(churn_csv), "target": "churned",
                         "drop": ["customer_id"]}, seed=0)
    loose = QualityConfig(high_cardinality_fraction=0.9, high_cardinality_levels=1000)
    assert [f.column for f in check_quality(data, QualityConfig(), seed=0).findings
            if f.check == "high_cardinality"] == ["referral_code"]
    assert "high_cardinality" not in {f.check for f in check_quality(data, loose, seed=0).findings}


def test_a_column_cast_by_dataset_dtypes_keeps_its_type(churn_csv: Path) -> None:
    data = load_dataset({"source": "file", "path": str(churn_csv), "target": "churned",
                         "dtypes": {"signup_date": "str"}}, seed=0)
    assert data.X["signup_date"].dtype == "str" and not data.column_types.dates
