"""One run logged to a local MLflow store (SQLite), read back with MLflow's own client: params,
metrics, tags, artifacts, the pyfunc model (loaded, served, tampered with) and the registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

pytest.importorskip("mlflow", reason='the tracking extra: pip install -e ".[tracking]"')

import mlflow
from mlflow import MlflowClient

from engine.errors import DataError
from tests.conftest import REPO, only_run_dir, run_main
from tests.postgres import free_port

RUN_ARGS = ("tracking=mlflow", "deploy=registry", "deploy.registry.name=cancer",
            "split.cv.n_splits=3", "metrics.bootstrap.resamples=50")


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A run with tracking=mlflow and the registry target: its directory and mlflow.json."""
    outputs = tmp_path_factory.mktemp("outputs")
    done = run_main([*RUN_ARGS, f"deploy.registry.path={outputs / 'registry.db'}"], outputs)
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(outputs)
    return run_dir, json.loads((run_dir / "mlflow.json").read_text())


@pytest.fixture(scope="module")
def client(logged: tuple[Path, dict[str, str]]) -> MlflowClient:
    uri = logged[1]["tracking_uri"]
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_the_local_store_is_a_sqlite_file_beside_the_runs(logged: tuple[Path, dict[str, str]]
                                                         ) -> None:
    run_dir, record = logged
    assert record["tracking_uri"] == f"sqlite:///{run_dir.parents[1] / 'mlflow.db'}"
    assert (run_dir.parents[1] / "mlartifacts").is_dir()


def test_params_are_the_flattened_config(logged: tuple[Path, dict[str, str]],
                                         client: MlflowClient) -> None:
    params = client.get_run(logged[1]["run_id"]).data.params
    assert params["split.cv.n_splits"] == "3"
    assert params["dataset.name"] == "breast_cancer"
    assert params["model.max_iter"] == "100"
    assert params["tracking.backend"] == "mlflow"
    assert params["deploy.targets"] == '["bundle", "registry"]'


def test_metrics_are_the_cv_test_and_interval_scores(logged: tuple[Path, dict[str, str]],
                                                     client: MlflowClient) -> None:
    run_dir, record = logged
    written = json.loads((run_dir / "metrics.json").read_text())
    metrics = client.get_run(record["run_id"]).data.metrics
    assert metrics["cv_roc_auc_mean"] == pytest.approx(written["cv"]["roc_auc"]["mean"])
    assert metrics["test_roc_auc"] == pytest.approx(written["test"]["roc_auc"])
    assert metrics["test_roc_auc_low"] == pytest.approx(
        written["test_intervals"]["roc_auc"]["low"])
    assert metrics["objective"] == pytest.approx(written["objective"])
    folds = client.get_metric_history(record["run_id"], "cv_roc_auc_fold")
    assert [m.value for m in sorted(folds, key=lambda m: m.step)] == pytest.approx(
        written["cv"]["roc_auc"]["folds"])
    assert metrics["total_seconds"] > 0


def test_tags_say_where_the_run_came_from(logged: tuple[Path, dict[str, str]],
                                         client: MlflowClient) -> None:
    run_dir, record = logged
    written = json.loads((run_dir / "run.json").read_text())
    run = client.get_run(record["run_id"])
    tags = run.data.tags
    assert tags["engine.dataset"] == "breast_cancer"
    assert tags["engine.model"] == "hist_gbm"
    assert tags["engine.data_fingerprint"] == written["dataset"]["fingerprint"]
    assert tags["mlflow.source.git.commit"] == written["git"]["commit"]
    assert run.info.status == "FINISHED"


def test_the_report_and_the_run_directory_are_artifacts(logged: tuple[Path, dict[str, str]],
                                                         client: MlflowClient) -> None:
    run_id = logged[1]["run_id"]
    top = {item.path for item in client.list_artifacts(run_id)}
    assert {"report.html", "run"} <= top
    inside = {item.path for item in client.list_artifacts(run_id, "run")}
    assert {"run/metrics.json", "run/run.json", "run/model", "run/.hydra"} <= inside


def test_the_pyfunc_model_predicts_as_engine_predict_does(
        logged: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    run_dir, record = logged
    rows = run_dir / "model" / "sample_input.csv"
    done = run_main(["predict", str(run_dir), str(rows), "-o", str(tmp_path / "out.csv")],
                    tmp_path)
    assert done.returncode == 0, done.stderr
    mlflow.set_tracking_uri(record["tracking_uri"])
    model = mlflow.pyfunc.load_model(record["model_uri"])
    answered = model.predict(pd.read_csv(rows))
    pd.testing.assert_frame_equal(answered, pd.read_csv(tmp_path / "out.csv"),
                                  check_dtype=False)


def test_the_logged_model_is_code_that_loads_the_verified_bundle(
        logged: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """No pickle in the model's files; a changed byte in its bundle is refused on load."""
    record = logged[1]
    mlflow.set_tracking_uri(record["tracking_uri"])
    local = Path(mlflow.artifacts.download_artifacts(record["model_uri"], dst_path=str(tmp_path)))
    assert not [p.name for p in local.rglob("*") if p.suffix in (".pkl", ".pickle", ".cloudpickle")]
    pipeline = next(local.rglob("pipeline.skops"))
    pipeline.write_bytes(pipeline.read_bytes() + b"\0")
    with pytest.raises(DataError, match=r"pipeline\.skops"):
        mlflow.pyfunc.load_model(str(local))


def test_the_registry_entry_is_mirrored_with_its_alias(logged: tuple[Path, dict[str, str]],
                                                       client: MlflowClient) -> None:
    record = json.loads((logged[0] / "mlflow.json").read_text())
    assert record["registered"] == {"name": "cancer", "version": 1, "aliases": ["challenger"]}
    version = client.get_model_version_by_alias("cancer", "challenger")
    assert (str(version.version), version.tags["engine.version"]) == ("1", "1")
    assert version.run_id == record["run_id"]


@pytest.fixture(scope="module")
def served(logged: tuple[Path, dict[str, str]]) -> Iterator[str]:
    """``mlflow models serve`` on the logged model, in this environment, until it answers."""
    record = logged[1]
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m",
         record["model_uri"], "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"],
        cwd=REPO, env={**os.environ, "MLFLOW_TRACKING_URI": record["tracking_uri"]},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/ping", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    if process.poll() is not None or time.monotonic() >= deadline:
        process.kill()
        raise AssertionError(f"mlflow models serve did not start: {process.stdout.read()}")
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.mark.slow
def test_mlflow_models_serve_answers_as_engine_predict(
        logged: tuple[Path, dict[str, str]], served: str, tmp_path: Path) -> None:
    run_dir = logged[0]
    rows = run_dir / "model" / "sample_input.csv"
    run_main(["predict", str(run_dir), str(rows), "-o", str(tmp_path / "out.csv")], tmp_path)
    frame = pd.read_csv(rows)
    answer = httpx.post(f"{served}/invocations", timeout=60, json={
        "dataframe_split": json.loads(frame.to_json(orient="split", index=False))})
    assert answer.status_code == 200, answer.text
    expected = pd.read_csv(tmp_path / "out.csv")
    predictions = pd.DataFrame(answer.json()["predictions"])
    pd.testing.assert_frame_equal(predictions[expected.columns], expected, check_dtype=False)

