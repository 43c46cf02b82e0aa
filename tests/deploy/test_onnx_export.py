"""deploy=onnx for scikit-learn pipelines: the graph takes raw columns, reproduces the bundle's
predictions in onnxruntime (a category never seen included), a step that cannot be converted is
named, and a graph that disagrees fails the run in one line with its other outputs written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pandas as pd
import pytest
from rich.console import Console
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesRegressor,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from engine.config.compose import compose_spec
from engine.deploy.batch_predict import predict_rows
from engine.deploy.bundle import load_bundle
from engine.deploy.exports import check_export_columns
from engine.deploy.input_schema import infer_schema
from engine.deploy.sklearn_onnx import PARITY_TOLERANCE, OnnxExportError, export_pipeline_onnx
from engine.errors import ConfigError
from engine.experiment import run_experiment
from engine.features.preprocessor import build_preprocessor
from tests.conftest import REPO, only_run_dir, run_main
from tests.data.churn_csv import write_churn_csv
from tests.deploy.conftest import mixed_frame


def with_missing_categories(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[frame.index[::30], "city"] = None
    return frame


def contract_inputs(rows: pd.DataFrame, record: dict) -> dict[str, np.ndarray]:
    """The inputs as exports.json describes them, built without the engine's helpers."""
    feeds = {}
    for entry in record["input"]:
        values = rows[entry["column"]]
        if entry["type"] == "float64":
            feeds[entry["name"]] = values.to_numpy(np.float64, na_value=np.nan).reshape(-1, 1)
        else:
            text = ["nan" if pd.isna(v) else str(v) for v in values]
            feeds[entry["name"]] = np.array(text, dtype=object).reshape(-1, 1)
    return feeds


@pytest.fixture(scope="module")
def onnx_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hist_gbm with the auto features on mixed rows (missing numbers and categories, a boolean
    column), exported with deploy=onnx."""
    tmp = tmp_path_factory.mktemp("onnx")
    data = tmp / "mixed.csv"
    with_missing_categories(mixed_frame(400, 0)).to_csv(data, index=False)
    run_dir = tmp / "run"
    run_dir.mkdir()
    spec = compose_spec(["dataset=titanic", f"dataset.path={data}", "dataset.target=label",
                         "dataset.drop=[id]", "model=hist_gbm", "deploy=onnx",
                         "split.cv.n_splits=3", "report=false", "metrics.bootstrap.resamples=0",
                         "metrics.explain.importance_repeats=0"])
    run_experiment(spec, run_dir, project_dir=REPO, console=Console(quiet=True))
    return run_dir


def test_the_onnx_graph_answers_as_engine_predict_on_new_rows(onnx_run: Path) -> None:
    record = json.loads((onnx_run / "exports" / "exports.json").read_text())["onnx"]
    assert [(entry["column"], entry["type"]) for entry in record["input"]] == [
        ("city", "string"), ("size", "float64"), ("member", "string")]
    assert record["parity"]["rows"] == 80 and record["parity"]["label_agreement"] == 1.0
    assert record["parity"]["max_abs_diff"] <= PARITY_TOLERANCE

    rows = with_missing_categories(mixed_frame(300, 1)).drop(columns=["id", "label"])
    assert rows["city"].isna().any() and rows["size"].isna().any()
    session = onnxruntime.InferenceSession(str(onnx_run / "exports" / "model.onnx"))
    labels, probabilities = session.run(None, contract_inputs(rows, record))
    predicted, _ = predict_rows(load_bundle(onnx_run), rows)
    np.testing.assert_allclose(probabilities, predicted[["proba_no", "proba_yes"]],
                               atol=PARITY_TOLERANCE)
    classes = np.array(["no", "yes"])
    assert (classes[labels] == predicted["prediction"]).all()


def test_the_graph_answers_a_category_it_never_saw_as_engine_predict(onnx_run: Path) -> None:
    record = json.loads((onnx_run / "exports" / "exports.json").read_text())["onnx"]
    rows = pd.DataFrame({"city": ["madrid", "oslo"], "size": [50.0, 50.0],
                         "member": [True, True]})
    session = onnxruntime.InferenceSession(str(onnx_run / "exports" / "model.onnx"))
    _, probabilities = session.run(None, contract_inputs(rows, record))
    predicted, warnings = predict_rows(load_bundle(onnx_run), rows)
    assert "categories unseen in training ('madrid')" in warnings[0]
    np.testing.assert_allclose(probabilities, predicted[["proba_no", "proba_yes"]],
                               atol=PARITY_TOLERANCE)


@pytest.mark.filterwarnings("ignore:Found unknown categories")  # as scikit-learn should
@pytest.mark.parametrize("encoder", [
    {"handle_unknown": "ignore"},
    {"handle_unknown": "ignore", "drop": "first"},
    {"handle_unknown": "infrequent_if_exist", "min_frequency": 5},
    {"handle_unknown": "infrequent_if_exist", "max_categories": 2, "drop": "if_binary"},
    {"handle_unknown": "warn", "min_frequency": 5},
])
def test_unseen_and_infrequent_categories_encode_as_scikit_learn(tmp_path, encoder) -> None:
    """Held-out rows with a city never seen, a rare one and a missing one, as one input and as
    several: the graph's probabilities are scikit-learn's."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"city": rng.choice(["a", "b", "c", "rare"], 300, p=[.4, .3, .29, .01]),
                      "member": rng.random(300) < 0.5})
    X.loc[::17, "city"] = None
    y = ((X["city"] == "a") | X["member"]).astype(int)
    new = pd.DataFrame({"city": ["lima", "rare", None, "b"], "member": [True, False, True, True]})
    for columns in (["city"], ["city", "member"]):
        pipeline = Pipeline([
            ("features", ColumnTransformer([("categorical", OneHotEncoder(
                sparse_output=False, **encoder), columns)])),
            ("model", LogisticRegression())]).fit(X, y)
        record = export_pipeline_onnx(pipeline, pd.concat([X.head(40), new]), infer_schema(X),
                                      tmp_path / "m.onnx")
        assert record["parity"]["rows"] == 44
        assert record["parity"]["max_abs_diff"] <= PARITY_TOLERANCE


MIXED = with_missing_categories(mixed_frame(300, 2))
X_MIXED = MIXED.drop(columns=["id", "label"])


def fitted(features: str, model: object, y: pd.Series) -> Pipeline:
    preprocessor = build_preprocessor(compose_spec([f"features={features}"]).features)
    return Pipeline([("features", preprocessor), ("model", model)]).fit(X_MIXED, y)


CASES = [
    ("auto", LogisticRegression(max_iter=1000), "label"),
    ("auto", RandomForestClassifier(n_estimators=50, random_state=0), "label"),
    ("ordinal", RandomForestClassifier(n_estimators=50, random_state=0), "label"),
    ("auto", SVC(), "label"),
    ("auto", Ridge(), "size"),
    ("ordinal", ExtraTreesRegressor(n_estimators=50, random_state=0), "size"),
    ("ordinal", HistGradientBoostingRegressor(random_state=0), "size"),
]


@pytest.mark.parametrize(("features", "model", "target"), CASES,
                         ids=[f"{f}-{type(m).__name__}" for f, m, _ in CASES])
def test_shipped_features_and_models_export_with_parity(tmp_path, features, model, target):
    known = MIXED[MIXED["size"].notna()] if target == "size" else MIXED
    X = known.drop(columns=["id", "label"])
    y = (known["size"] * 1000 if target == "size"  # in large units: parity is relative above 1
         else (known["label"] == "yes").astype(int))
    pipeline = Pipeline([("features", build_preprocessor(
        compose_spec([f"features={features}"]).features)), ("model", model)]).fit(X, y)
    record = export_pipeline_onnx(pipeline, X_MIXED, infer_schema(X), tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").is_file()
    parity = record["parity"]
    assert parity["rows"] == len(X_MIXED)  # categories the schema never saw included
    if isinstance(model, SVC):  # no probabilities: compared on labels
        assert parity["max_abs_diff"] is None and parity["label_agreement"] == 1.0
    else:
        assert parity["max_abs_diff"] <= PARITY_TOLERANCE
    assert "probabilities" in record["output"] if target == "label" else "variable" in record[
        "output"]


def test_tree_thresholds_keep_rows_on_their_side_in_float32(tmp_path) -> None:
    """scikit-learn splits float32 features on a float64 threshold; rounded to float32 the
    threshold would move past the training value just above it."""
    low = np.nextafter(np.float32(1), np.float32(2))
    high = np.nextafter(low, np.float32(2))
    assert np.float32((float(low) + float(high)) / 2) == high  # the midpoint rounds up
    X = pd.DataFrame({"x": np.array([low, high] * 20, dtype=np.float64)})
    y = np.array([0, 1] * 20)
    pipeline = Pipeline([
        ("features", ColumnTransformer([("numeric", "passthrough", ["x"])])),
        ("model", DecisionTreeClassifier(random_state=0)),
    ]).fit(X, y)
    record = export_pipeline_onnx(pipeline, X, infer_schema(X), tmp_path / "tree.onnx")
    assert record["parity"]["label_agreement"] == 1.0


def test_a_parity_failure_names_the_step_and_keeps_no_file(tmp_path) -> None:
    """skl2onnx's k-NN with distance weights departs from scikit-learn's on these rows; the export
    is refused naming the model, or (once the converter agrees) kept with its parity."""
    y = (MIXED["label"] == "yes").astype(int)
    pipeline = fitted("auto", KNeighborsClassifier(n_neighbors=15, weights="distance"), y)
    path = tmp_path / "knn.onnx"
    try:
        record = export_pipeline_onnx(pipeline, X_MIXED, infer_schema(X_MIXED), path)
    except OnnxExportError as error:
        assert "the onnx graph of model (KNeighborsClassifier) differs from scikit-learn" in str(
            error)
        assert not path.exists()
    else:
        assert record["parity"]["max_abs_diff"] <= PARITY_TOLERANCE


@pytest.mark.parametrize(("overrides", "named"), [
    (["model=dummy"], "model (DummyClassifier)"),
    (["+features.transformers.numeric.columns=[mean radius]",
      "features.transformers.numeric.steps=[{_target_: sklearn.preprocessing.SplineTransformer}]"],
     "features.transformers.numeric.steps[0] of column(s) mean radius (SplineTransformer)"),
    (["metrics.threshold=f1"], "metrics.threshold (FixedThresholdClassifier)"),
])
def test_a_step_skl2onnx_cannot_convert_is_named_before_training(in_process_cli, overrides,
                                                                  named) -> None:
    done = in_process_cli("deploy=onnx", *overrides)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"error: deploy.targets: onnx cannot convert {named}: skl2onnx has no converter" in (
        done.stderr)
    assert "Traceback" not in done.stderr and "breast_cancer:" not in done.stdout


def test_int8_quantization_is_refused_for_a_scikit_learn_model(in_process_cli) -> None:
    done = in_process_cli("deploy=onnx", "deploy.quantize=int8")
    assert done.returncode == 2
    assert "deploy.quantize=int8 quantizes the ONNX export of a PyTorch network" in done.stderr


def test_a_block_picking_columns_by_kind_is_checked_against_the_data(tmp_path) -> None:
    """Before the data, a block that picks by kind may find no column; once it is read, one that
    takes columns and cannot convert is refused, naming them."""
    spec = compose_spec(["deploy=onnx", "features.transformers.numeric.steps="
                         "[{_target_: sklearn.preprocessing.SplineTransformer}]"])
    check_export_columns(spec, X_MIXED[["city", "member"]])
    with pytest.raises(ConfigError, match=r"^deploy.targets: onnx cannot convert features."
                       r"transformers.numeric.steps\[0\] of column\(s\) size "
                       r"\(SplineTransformer\): skl2onnx has no converter for it. Take that "
                       r"step out, or drop onnx from deploy.targets \(deploy=bundle\).$"):
        check_export_columns(spec, X_MIXED)


def test_a_parity_failure_is_one_line_and_the_run_keeps_its_other_outputs(tmp_path) -> None:
    """Inputs near 1e8 lose their last digits in the model's float32: the graph's predictions
    are thousands off. The run exits 2 with one line; the bundle, metrics and report are
    written, run.json says failed, and no graph is kept."""
    rng = np.random.default_rng(0)
    digits = rng.uniform(0, 10, 300)
    data = tmp_path / "large.csv"
    pd.DataFrame({"x": 1e8 + digits, "y": 1000 * digits}).to_csv(data, index=False)
    done = run_main(["dataset=titanic", f"dataset.path={data}", "dataset.target=y",
                     "dataset.drop=[]", "model=ridge", "deploy=onnx", "split.cv.n_splits=3",
                     "quality.severity={leakage: info}",
                     "features.transformers.numeric.steps="
                     "[{_target_: sklearn.preprocessing.FunctionTransformer}]"],
                    tmp_path / "out")
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: deploy.targets: the onnx graph of model (Ridge) differs from "
                           "scikit-learn on 60 held-out rows: largest difference")
    run_dir = only_run_dir(tmp_path / "out")
    for name in ("metrics.json", "report.html", "model/MANIFEST.json", "exports/exports.json"):
        assert (run_dir / name).is_file(), name
    assert not (run_dir / "exports" / "model.onnx").exists()
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "failed" and run["error"] == line.removeprefix("error: ")
    assert json.loads((run_dir / "exports" / "exports.json").read_text()) == {
        "onnx": {"error": run["error"]}}


def test_a_date_column_with_onnx_is_refused_before_training(tmp_path) -> None:
    """features=auto turns the churn file's ISO dates into date parts, which skl2onnx cannot
    convert: the run stops once the data is read, naming the column, and trains nothing."""
    data = write_churn_csv(tmp_path / "churn.csv")
    done = run_main(["dataset=titanic", f"dataset.path={data}", "dataset.target=churned",
                     "dataset.drop=[customer_id]", "dataset.na_values=['?']",
                     "quality.fail_on=never", "deploy=onnx"], tmp_path / "out")
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: deploy.targets: onnx cannot convert features."
                                  "transformers.date.steps[0] of column(s) signup_date "
                                  "(DateFeatures)")
    run_dir = only_run_dir(tmp_path / "out")
    assert not (run_dir / "metrics.json").exists() and not (run_dir / "model").exists()
