"""Batch prediction through a verified bundle, on mixed-type rows read from real CSV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.deploy.batch_predict import apply_reading, predict_rows, read_rows
from engine.deploy.bundle import load_bundle
from engine.errors import SchemaError
from engine.tracking.records import DatasetReading


@pytest.fixture
def mixed_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 400
    city = rng.choice(["paris", "oslo", "rome"], n)
    size = rng.normal(50, 10, n).round(1)
    size[::25] = np.nan
    member = rng.random(n) < 0.5
    y = np.where((city == "oslo") | (size > 55) | member, "yes", "no")
    path = tmp_path / "mixed.csv"
    frame = pd.DataFrame({"id": range(n), "city": city, "size": size, "member": member, "label": y})
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def trained(run, mixed_csv: Path):
    return run(
        "dataset=titanic", f"dataset.path={mixed_csv}", "dataset.target=label",
        "dataset.drop=[id]", "model=logistic_regression", "split.cv.n_splits=3",
    )


def test_predictions_match_the_run_on_the_same_rows(trained, mixed_csv: Path) -> None:
    bundle = load_bundle(trained.run_dir)
    rows = read_rows(mixed_csv, bundle.metadata.reading)
    assert rows["member"].dtype == bool  # True/False text read as bool, one-hot encoded
    predicted, warnings = predict_rows(bundle, rows, keep=["id"], strict=True)
    assert warnings == []
    assert (predicted["id"] == rows["id"]).all()
    assert set(predicted["prediction"]) <= {"no", "yes"}
    assert list(predicted.columns) == ["id", "prediction", "proba_no", "proba_yes"]
    test_rows = pd.read_csv(trained.run_dir / "predictions.csv")
    again = predicted.iloc[test_rows["row"]].reset_index(drop=True)
    assert (again["prediction"] == test_rows["prediction"]).all()
    np.testing.assert_allclose(again["proba_yes"], test_rows["proba_yes"], rtol=0, atol=1e-12)


def test_unseen_categories_and_extra_columns_warn_and_strict_refuses(trained) -> None:
    bundle = load_bundle(trained.run_dir)
    rows = pd.DataFrame(
        {"city": ["lima", "oslo"], "size": [40.0, 60.0], "member": [True, False],
         "note": ["a", "b"]}
    )
    predicted, warnings = predict_rows(bundle, rows)
    assert len(predicted) == 2
    assert any("ignored 1 column(s) the model does not use: note" in w for w in warnings)
    assert any("column 'city': 1 row(s) have categories unseen in training ('lima')" in w
               for w in warnings)
    with pytest.raises(SchemaError, match="--strict"):
        predict_rows(bundle, rows, strict=True)


def test_rows_in_the_training_file_format_predict_like_the_training_rows(run, tmp_path) -> None:
    source = pd.DataFrame(
        {"size": ["1.5", "?", "3.0", "4.5"] * 30, "flag": ["yes", "no", "no", "yes"] * 30,
         "label": ["a", "b", "b", "a"] * 30}
    )
    path = tmp_path / "marked.csv"
    source.to_csv(path, index=False)
    result = run(
        "dataset=titanic", f"dataset.path={path}", "dataset.target=label", "dataset.drop=[]",
        "dataset.na_values=[?]", "dataset.dtypes={flag: bool}", "model=logistic_regression",
        "split.cv.n_splits=2", "quality.severity={duplicate_rows: info, leakage: info}",
    )
    bundle = load_bundle(result.run_dir)
    rows = read_rows(path, bundle.metadata.reading)
    assert rows["size"].isna().sum() == 30 and rows["flag"].dtype == bool
    predicted, _ = predict_rows(bundle, rows)
    assert (predicted["prediction"] == source["label"]).all()

    with pytest.raises(SchemaError, match="column 'flag': 'maybe' is not a true/false"):
        predict_rows(bundle, pd.DataFrame({"size": [1.0], "flag": ["maybe"]}))


def test_rows_already_parsed_are_read_by_the_training_files_rules() -> None:
    """JSON rows (the REST service's) and Parquet files get the markers and casts read_csv and
    dataset.dtypes gave the training file: "?" and -999 missing, yes/no as booleans."""
    reading = DatasetReading(na_values=["?", "-999"], dtypes={"flag": "bool"})
    rows = pd.DataFrame({"size": ["1.5", "?", -999, 2.0], "flag": ["yes", "no", "no", "yes"]})
    read = apply_reading(rows, reading)
    assert read["size"].isna().tolist() == [False, True, True, False]
    assert read["flag"].tolist() == [True, False, False, True] and read["flag"].dtype == bool
    assert rows["size"].iloc[1] == "?"  # the caller's rows are left as they were
    with pytest.raises(SchemaError, match=r"^column 'flag': 'maybe' is not a true/false, yes/no "
                                          r"or 1/0 value; the model was trained with "
                                          r"dataset.dtypes.flag='bool': send values of that "
                                          r"type.$"):
        apply_reading(pd.DataFrame({"flag": ["maybe"]}), reading)
