"""LightGBM, XGBoost and CatBoost end to end on mixed rows read from a real CSV file: trained
with native categoricals and early stopping, predicted in batch, served over HTTP, exported to
ONNX or refused by name, searched together with hist_gbm, and within the thread budget."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from engine.config.compose import compose_spec
from engine.deploy.batch_predict import predict_rows
from engine.deploy.bundle import load_bundle
from engine.experiment import RunResult, run_experiment
from engine.models.lightgbm_model import LightGBMClassifier
from engine.models.xgboost_model import XGBoostClassifier, XGBoostRegressor
from engine.threads import limited_threads
from tests.conftest import REPO, run_main
from tests.deploy.conftest import mixed_frame, start_server

FAMILIES = ("lightgbm", "xgboost", "catboost")
FEATURES = ["city", "size", "member"]
QUICK = ("split.cv.n_splits=2", "report=false", "metrics.bootstrap.resamples=0",
         "metrics.explain.importance_repeats=0")


@pytest.fixture(scope="module")
def mixed_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "mixed.csv"
    mixed_frame(600, 0).to_csv(path, index=False)
    return path


def overrides(data: Path, *more: str) -> list[str]:
    return ["dataset=titanic", f"dataset.path={data}", "dataset.target=label",
            "dataset.drop=[id]", "features=ordinal", *QUICK, *more]


def train(tmp: Path, *args: str) -> RunResult:
    tmp.mkdir(parents=True)
    return run_experiment(compose_spec(list(args)), tmp, project_dir=REPO,
                          console=Console(quiet=True))


@pytest.fixture(scope="module")
def runs(mixed_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RunResult]:
    """One run per family; LightGBM's with the onnx export."""
    tmp = tmp_path_factory.mktemp("runs")
    return {family: train(tmp / family, *overrides(mixed_csv, f"model={family}",
                                                   *(["deploy=onnx"] if family == "lightgbm"
                                                     else [])))
            for family in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_learns_the_rule_with_its_categories_native(runs: dict[str, RunResult],
                                                                family: str) -> None:
    result = runs[family]
    assert result.metrics["test"]["roc_auc"] > 0.9
    model = load_bundle(result.run_dir / "model").pipeline[-1]
    # size, its missing indicator, then the codes of city and member (bool is categorical)
    assert model.categorical_columns_ == [2, 3]
    assert 0 < model.n_iterations_ <= 200


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_predicts_in_batch_as_its_run_did(runs: dict[str, RunResult],
                                                      mixed_csv: Path, tmp_path: Path,
                                                      family: str) -> None:
    run_dir = runs[family].run_dir
    done = run_main(["predict", str(run_dir), str(mixed_csv), "-o", str(tmp_path / "out.csv")],
                    tmp_path)
    assert done.returncode == 0, done.stderr
    predicted = pd.read_csv(tmp_path / "out.csv")
    test_rows = pd.read_csv(run_dir / "predictions.csv")
    again = predicted.iloc[test_rows["row"]].reset_index(drop=True)
    assert (again["prediction"] == test_rows["prediction"]).all()
    np.testing.assert_allclose(again["proba_yes"], test_rows["proba_yes"], rtol=1e-9)


@pytest.fixture(scope="module", params=FAMILIES)
def served(request: pytest.FixtureRequest, runs: dict[str, RunResult]
           ) -> Iterator[tuple[str, RunResult]]:
    for url in start_server(str(runs[request.param].run_dir)):
        yield url, runs[request.param]


def test_each_family_is_served_over_http(served: tuple[str, RunResult]) -> None:
    url, result = served
    rows = mixed_frame(20, 5)
    records = json.loads(rows[FEATURES].to_json(orient="records"))
    answer = httpx.post(f"{url}/predict", json={"records": records}, timeout=30)
    assert answer.status_code == 200, answer.text
    expected, _ = predict_rows(load_bundle(result.run_dir / "model"), rows[FEATURES])
    assert answer.json()["predictions"] == expected["prediction"].tolist()


def test_lightgbm_exports_to_onnx_with_its_categorical_splits(runs: dict[str, RunResult]
                                                              ) -> None:
    record = json.loads((runs["lightgbm"].run_dir / "exports" / "exports.json").read_text())
    assert record["onnx"]["file"] == "model.onnx"
    assert record["onnx"]["parity"]["label_agreement"] == 1.0
    assert record["onnx"]["parity"]["max_abs_diff"] < 1e-4


@pytest.mark.parametrize(("family", "name"), [("xgboost", "XGBoostClassifier"),
                                              ("catboost", "CatBoostClassifier")])
def test_an_onnx_target_the_family_cannot_take_is_refused_by_name(mixed_csv: Path,
                                                                  tmp_path: Path, family: str,
                                                                  name: str) -> None:
    done = run_main(overrides(mixed_csv, f"model={family}", "deploy=onnx"), tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: deploy.targets: onnx cannot convert model ({name}): skl2onnx has no converter "
        "for it. The bundle, engine serve and engine predict take it (deploy=bundle); "
        "model=lightgbm and model=hist_gbm export to onnx."]


def test_catboost_without_its_extra_names_the_extra(tmp_path: Path) -> None:
    """As on a machine without catboost: its import fails (``sys.modules`` entry None)."""
    code = ("import sys; sys.modules['catboost'] = None; from engine.cli import main; "
            "main(['model=catboost'])")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, env={"ENGINE_OUTPUT_DIR": str(tmp_path), "PATH": ""})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        'error: model=catboost: catboost is not installed. Install the catboost extra: '
        'pip install -e ".[catboost]" (or pip install "engine[catboost]"), or pick another '
        'model (model=lightgbm, model=hist_gbm).']


def test_a_bad_parameter_is_refused_before_any_data_loads(tmp_path: Path) -> None:
    done = run_main(["model=lightgbm", "model.num_leaves=1"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: model.num_leaves: The 'num_leaves' parameter of "
                                  "LightGBMClassifier must be an int in the range [2, inf)")


def test_a_search_across_hist_gbm_lightgbm_and_xgboost(mixed_csv: Path,
                                                       tmp_path: Path) -> None:
    result = train(tmp_path / "search", *overrides(
        mixed_csv, "tune=random", "tune.models=[hist_gbm,lightgbm,xgboost]",
        "tune.n_trials=9", "tune.plots=false", "seed=3"))
    table = pd.read_csv(result.run_dir / "tuning" / "trials.csv")
    assert set(table["state"]) <= {"COMPLETE", "PRUNED"}  # none failed
    assert set(table["param_model"]) == {"hist_gbm", "lightgbm", "xgboost"}
    assert table["param_lightgbm.num_leaves"].dropna().between(4, 256).all()
    assert result.metrics["test"]["roc_auc"] > 0.9


def test_early_stopping_stops_on_rows_carved_from_the_training_rows() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    y = X[:, 0] + rng.normal(scale=0.1, size=2000)
    stopped = XGBoostRegressor(n_estimators=1000, learning_rate=0.3, random_state=0).fit(X, y)
    assert stopped.n_iterations_ < 1000
    every = XGBoostRegressor(n_estimators=50, early_stopping_rounds=None).fit(X, y)
    assert every.n_iterations_ == 50


def test_multiclass_probabilities_are_float64_rows_that_log_loss_takes_without_a_warning(
        ) -> None:
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(600, 4)), rng.integers(0, 5, 600)
    model = XGBoostClassifier(n_estimators=20, random_state=0).fit(X, y)
    probabilities = model.predict_proba(X)
    assert probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "y_prob values do not sum to one" fails the test
        assert 0 < log_loss(y, probabilities) < np.log(5)


def test_a_fit_uses_the_threads_the_engine_gives_its_process() -> None:
    """Inside a tuning worker's one-thread budget, LightGBM and XGBoost train on one thread."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20_000, 5)), rng.integers(0, 2, 20_000)
    with limited_threads(1):
        lightgbm = LightGBMClassifier(n_estimators=5).fit(X, y)
        xgboost = XGBoostRegressor(n_estimators=5).fit(X, y.astype(float))
    assert "[num_threads: 1]" in lightgbm.booster_.model_to_string()
    config = json.loads(xgboost.booster_.save_config())
    assert config["learner"]["generic_param"]["nthread"] == "1"
