"""predict and serve read rows by the training data's rules (``na_values`` markers, ``dtypes``)
and treat categories unseen in training alike: predicted with a warning, refused with --strict;
the ONNX export encodes an unseen category as scikit-learn does. A churn-like CSV with ``?``
markers and many rare agents, trained in-process; a real server answers a real client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnxruntime
import pandas as pd
import pytest

from engine.deploy.input_schema import conform
from engine.deploy.sklearn_onnx import PARITY_TOLERANCE
from engine.errors import SchemaError
from tests.conftest import only_run_dir, run_main
from tests.deploy.conftest import start_server

FEATURES = ["plan", "region", "agent", "charges"]


def churn_frame(rows: int, seed: int) -> pd.DataFrame:
    """Charges with ``?`` for missing, three plans, four regions and ~rows/2 agents, most of
    them too rare for the one-hot encoder (min_frequency 5): their rows share one column."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], rows)
    charges = rng.normal(70, 20, rows).round(2).astype(object)
    charges[::9] = "?"
    churn = np.where((plan == "basic") | (rng.random(rows) < 0.2), "yes", "no")
    return pd.DataFrame({"customer": range(rows), "plan": plan,
                         "region": rng.choice(["north", "south", "east", "west"], rows),
                         "agent": [f"agent{i // 2}" for i in range(rows)], "charges": charges,
                         "churn": churn})


def new_rows() -> pd.DataFrame:
    """Rows as a user sends them: ``?`` markers, a plan, a region and agents never seen."""
    rows = churn_frame(12, 1).drop(columns=["churn"])
    rows.loc[0, "plan"] = "enterprise"
    rows.loc[1, "region"] = "mars"
    rows["agent"] = [f"new{i}" for i in range(len(rows))]
    rows.loc[2, "charges"] = "?"
    return rows


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("read_rules")


@pytest.fixture(scope="module")
def run_dir(tmp: Path) -> Path:
    data = tmp / "churn.csv"
    churn_frame(400, 0).to_csv(data, index=False)
    done = run_main(["dataset=titanic", f"dataset.path={data}", "dataset.target=churn",
                     "dataset.drop=[customer]", "dataset.na_values=[?]", "deploy=onnx",
                     "model=logistic_regression", "split.cv.n_splits=3", "report=false",
                     "quality.severity={high_cardinality: info}"], tmp / "out")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return only_run_dir(tmp / "out")


@pytest.fixture(scope="module")
def rows_csv(tmp: Path) -> Path:
    path = tmp / "new.csv"
    new_rows().to_csv(path, index=False)
    assert "?" in path.read_text()
    return path


@pytest.fixture(scope="module")
def batch(run_dir: Path, rows_csv: Path, tmp: Path) -> tuple[pd.DataFrame, str]:
    """``python -m engine predict`` on the new rows: the predictions and its stderr."""
    done = run_main(["predict", str(run_dir), str(rows_csv), "-o", str(tmp / "out.csv")], tmp)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(tmp / "out.csv"), done.stderr


@pytest.fixture(scope="module")
def server(run_dir: Path) -> Iterator[str]:
    yield from start_server(str(run_dir))


@pytest.fixture(scope="module")
def strict_server(run_dir: Path) -> Iterator[str]:
    yield from start_server(str(run_dir), "--strict")


def unseen_warnings(warnings: list[str] | str) -> list[str]:
    text = "\n".join(warnings) if isinstance(warnings, list) else warnings
    return [column for column in ("plan", "region", "agent")
            if f"column '{column}': " in text and "unseen in training" in text]


def test_predict_reads_markers_and_warns_about_unseen_categories(batch) -> None:
    predicted, stderr = batch
    assert len(predicted) == 12 and predicted["prediction"].isin(["no", "yes"]).all()
    assert unseen_warnings(stderr) == ["plan", "region", "agent"]
    assert "('enterprise')" in stderr and "('mars')" in stderr
    assert "'new0', 'new1', 'new10', 'new11', 'new2' ... and 7 more" in stderr


def test_the_server_answers_the_same_rows_as_predict(server: str, rows_csv: Path,
                                                     batch) -> None:
    predicted, _ = batch
    expected = predicted["prediction"].tolist()
    text = rows_csv.read_text()
    answer = httpx.post(f"{server}/invocations", content=text,
                        headers={"content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == expected
    assert unseen_warnings(answer.json()["warnings"]) == ["plan", "region", "agent"]

    as_sent = pd.read_csv(rows_csv, dtype={"charges": str})  # "?" and numbers as text
    split = json.loads(as_sent.to_json(orient="split", index=False))
    answer = httpx.post(f"{server}/invocations", json={"dataframe_split": split})
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == expected

    records = json.loads(as_sent[FEATURES].to_json(orient="records"))
    for record in records:  # numbers as numbers, "?" as the training file had it
        record["charges"] = record["charges"] if record["charges"] == "?" else float(
            record["charges"])
    answer = httpx.post(f"{server}/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == expected
    np.testing.assert_allclose([p["yes"] for p in body["probabilities"]], predicted["proba_yes"],
                               rtol=0, atol=1e-9)
    assert unseen_warnings(body["warnings"]) == ["plan", "region", "agent"]


def test_a_request_gets_only_its_own_warnings(server: str) -> None:
    seen = new_rows()[FEATURES].iloc[[3]].assign(agent="agent1")
    answer = httpx.post(f"{server}/invocations", json={"dataframe_records": json.loads(
        seen.to_json(orient="records"))})
    assert answer.status_code == 200 and answer.json()["warnings"] == []


def test_strict_refuses_unseen_categories_in_predict_and_serve(
        run_dir: Path, rows_csv: Path, tmp: Path, strict_server: str) -> None:
    done = run_main(["predict", str(run_dir), str(rows_csv), "-o", str(tmp / "strict.csv"),
                     "--strict"], tmp)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "input (--strict): column 'plan': 1 row(s) have categories unseen in training " \
           "('enterprise')" in done.stderr
    assert not (tmp / "strict.csv").exists()

    answer = httpx.post(f"{strict_server}/invocations", content=rows_csv.read_text(),
                        headers={"content-type": "text/csv"})
    assert answer.status_code == 422
    assert "input (--strict): column 'plan'" in answer.json()["error"]


def test_a_422_about_a_column_of_many_categories_is_short(strict_server: str) -> None:
    row = new_rows()[FEATURES].iloc[[3]]
    answer = httpx.post(f"{strict_server}/predict", json={"records": json.loads(
        row.to_json(orient="records"))})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error.startswith("input (--strict): column 'agent': 1 row(s) have categories unseen")
    assert "Send one of the categories seen in training: 'agent0', 'agent1', 'agent10', " \
           "'agent100', 'agent101' ... and " in error
    assert len(answer.text) < 400


def test_the_openapi_spec_shows_categories_as_examples_without_refusing_others(
        server: str) -> None:
    record = httpx.get(f"{server}/openapi.json").json()["components"]["schemas"]["Record"]
    plan = record["properties"]["plan"]
    assert plan["examples"] == ["basic", "plus", "pro"]
    assert {"type": "string"} in plan["anyOf"] and "enum" not in json.dumps(plan)
    assert len(record["properties"]["agent"]["examples"]) == 5
    assert {"type": "string", "const": "?"} in record["properties"]["charges"]["anyOf"]


def test_the_bundle_holds_a_sample_request_and_input_that_predict(
        run_dir: Path, server: str, tmp: Path) -> None:
    sample = json.loads((run_dir / "model" / "sample_request.json").read_text())
    assert [list(row) for row in sample["dataframe_records"]] == [FEATURES] * 3
    answer = httpx.post(f"{server}/invocations", json=sample)
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 3
    done = run_main(["predict", str(run_dir), str(run_dir / "model" / "sample_input.csv"),
                     "-o", str(tmp / "sample.csv"), "--strict"], tmp)
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(tmp / "sample.csv")["prediction"].tolist() == answer.json()["predictions"]


def test_the_onnx_export_encodes_unseen_categories_as_scikit_learn(run_dir: Path,
                                                                   batch) -> None:
    record = json.loads((run_dir / "exports" / "exports.json").read_text())["onnx"]
    assert record["parity"]["rows"] == 80  # every held-out row, their new agents included
    assert record["parity"]["max_abs_diff"] <= PARITY_TOLERANCE
    rows = new_rows()[FEATURES].replace("?", np.nan)
    feeds = {}
    for entry in record["input"]:
        values = rows[entry["column"]]
        feeds[entry["name"]] = (values.to_numpy(np.float64, na_value=np.nan)
                                if entry["type"] == "float64"
                                else np.array(["nan" if pd.isna(v) else str(v) for v in values],
                                              dtype=object)).reshape(-1, 1)
    session = onnxruntime.InferenceSession(str(run_dir / "exports" / "model.onnx"))
    labels, probabilities = session.run(None, feeds)
    predicted, _ = batch
    np.testing.assert_allclose(probabilities[:, 1], predicted["proba_yes"],
                               atol=PARITY_TOLERANCE)
    assert (np.array(["no", "yes"])[labels] == predicted["prediction"]).all()


def test_strict_accepts_a_column_training_dropped(run_dir: Path, tmp: Path,
                                                  strict_server: str) -> None:
    """Rows cut from the training file still carry its id column (dataset.drop): not an
    unexpected column, so --strict answers them, quietly."""
    rows = churn_frame(20, 2).drop(columns=["churn"])
    rows = rows[rows["agent"].isin(churn_frame(400, 0)["agent"])]
    path = tmp / "known.csv"
    rows.to_csv(path, index=False)
    done = run_main(["predict", str(run_dir), str(path), "-o", str(tmp / "known_out.csv"),
                     "--strict"], tmp)
    assert done.returncode == 0, done.stderr
    assert "does not use" not in done.stderr
    answer = httpx.post(f"{strict_server}/invocations", content=path.read_text(),
                        headers={"content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["warnings"] == []


@pytest.mark.parametrize("dtype", ["datetime64[ns]", "datetime64[ns, UTC]"])
def test_dates_in_mixed_iso_forms_conform_to_the_training_dtype(dtype: str) -> None:
    schema = {"columns": [{"name": "start", "kind": "datetime", "dtype": dtype,
                           "nullable": True, "categories": None}]}
    rows = pd.DataFrame({"start": ["2031-01-15", "2024-01-01T12:00:00", None,
                                   "2024-01-01T12:00:00+02:00"]})
    conformed, warnings = conform(rows, schema)
    assert warnings == []
    assert str(conformed["start"].dtype).startswith("datetime64") \
        and ("UTC" in str(conformed["start"].dtype)) == ("UTC" in dtype)
    assert conformed["start"].dt.strftime("%Y-%m-%d %H:%M").tolist()[:2] == [
        "2031-01-15 00:00", "2024-01-01 12:00"]
    assert conformed["start"].isna().tolist() == [False, False, True, False]
    assert conformed["start"].iloc[3].hour == 10


def test_a_value_that_is_not_a_date_is_one_line_naming_the_column() -> None:
    schema = {"columns": [{"name": "start", "kind": "datetime", "dtype": "datetime64[ns]",
                           "nullable": True, "categories": None}]}
    with pytest.raises(SchemaError, match=r"^column 'start': expected ISO dates "
                       r"\(datetime64\[ns\]\), e.g. 2024-03-01 or 2024-03-01T12:30:00, found "
                       r"'soon' in 1 row\(s\), first at row 1. Fix those values or leave them "
                       r"empty for missing.$"):
        conform(pd.DataFrame({"start": ["2024-01-01", "soon"]}), schema)


@pytest.mark.parametrize(("sent", "known", "dtype", "expected", "unseen"), [
    (pd.Series(["a", "b", None, "c"]), ["a", "b"], "str", ["a", "b", None, "c"], 1),
    (pd.Series(["a", "b", None], dtype=object), ["a", "b"], "object", ["a", "b", None], 0),
    (pd.Series(["1", "2", None]), [1, 2], "object", [1.0, 2.0, None], 0),
    (pd.Series(["1", "x"], dtype=object), [1, 2], "object", [1, "x"], 1),
    (pd.Series([np.int64(1), np.int64(2)]), [1, 2], "object", [1, 2], 0),
    (pd.Series(["b", "z", None]), ["a", "b"], "category", ["b", None, None], 1),
])
def test_categories_read_as_in_training_whatever_type_they_come_in(
        sent: pd.Series, known: list, dtype: str, expected: list, unseen: int) -> None:
    """A text column whose values are the trained ones comes back as sent, without a lookup
    per row; values of another type ('1' for 1) become the trained values; missing stays
    missing, and an unseen category is counted."""
    schema = {"columns": [{"name": "plan", "kind": "categorical", "dtype": dtype,
                           "nullable": True, "categories": known}]}
    conformed, warnings = conform(pd.DataFrame({"plan": sent}), schema)
    values = conformed["plan"].astype(object)
    assert values.where(values.notna(), None).tolist() == expected
    assert [type(value) for value in values.dropna()] == [type(value) for value in expected
                                                          if value is not None]
    assert len(warnings) == min(unseen, 1)
    assert not unseen or f"{unseen} row(s) have categories unseen" in warnings[0]
    if dtype == "str":
        assert conformed["plan"].dtype == "str"
