"""model=mlp and model=torch through the whole engine: CV, tuning with per-epoch pruning, the
bundle, batch prediction, exports with parity, a network of the user's own, and the errors."""

from __future__ import annotations

import json
import re
import shutil
import sys
import warnings

import numpy as np
import onnxruntime
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.pipeline import Pipeline

from engine.deploy.batch_predict import predict_rows, read_rows
from engine.deploy.bundle import load_bundle, save_bundle
from engine.errors import DataError
from engine.models.torch import TorchClassifier
from engine.models.torch.export import PARITY_TOLERANCE
from engine.tracking.records import BundleMetadata, BundleScores, GitState
from tests.conftest import only_run_dir

FAST = ("model=mlp", "split.cv.n_splits=3", "model.max_epochs=20")
# The search's trials and the network alone, for tests that read neither the tuning plots (drawn
# in a process of their own), nor the report, the test intervals or the importances (test_models
# runs the network with all of them).
SEARCH_ONLY = ("tune.plots=false", "report=false", "metrics.bootstrap.resamples=0",
               "metrics.explain.importance_repeats=0")


@pytest.mark.slow
def test_mlp_run_bundle_and_exports_agree_with_the_runs_predictions(
        in_process_cli, tmp_path) -> None:
    cli = in_process_cli
    done = cli(*FAST, *SEARCH_ONLY[1:], "deploy=onnx", "deploy.targets=[bundle,onnx,torchscript]",
               "deploy.quantize=int8")
    assert done.returncode == 0, done.stderr
    assert "export onnx: exports/model.onnx" in done.stdout
    assert re.search(r"export onnx int8: exports/model.int8.onnx · accuracy 0\.\d{4} -> "
                     r"0\.\d{4} \([+-]0\.\d{4}\) · \d+\.\dx smaller", done.stdout), done.stdout
    run_dir = only_run_dir(tmp_path)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["cv"]["roc_auc"]["mean"] > 0.98
    assert metrics["test"]["roc_auc"] > 0.97

    # `engine predict` on the held-out rows, through the bundle (weights-only reload), gives
    # exactly what the run predicted for them.
    predictions = pd.read_csv(run_dir / "predictions.csv")
    test_rows = load_breast_cancer(as_frame=True).frame.loc[predictions["row"]]
    test_rows.to_csv(tmp_path / "rows.csv", index=False)
    done = cli("predict", str(run_dir), str(tmp_path / "rows.csv"), "-o",
               str(tmp_path / "out.csv"))
    assert done.returncode == 0, done.stderr
    probability = [c for c in predictions.columns if c.startswith("proba_")]
    expected = predictions[probability].to_numpy()
    np.testing.assert_allclose(pd.read_csv(tmp_path / "out.csv")[probability], expected,
                               atol=1e-9)

    # Both exports reproduce the model on the held-out rows within the tolerance.
    record = json.loads((run_dir / "exports" / "exports.json").read_text())
    assert record["onnx"]["parity"]["max_abs_diff"] <= PARITY_TOLERANCE
    assert record["torchscript"]["parity"]["rows"] == len(test_rows)
    features = load_bundle(run_dir).pipeline[:-1].transform(test_rows.drop(columns="target"))
    assert list(features.columns) == record["onnx"]["input"]["columns"]
    inputs = features.to_numpy(np.float32)
    session = onnxruntime.InferenceSession(str(run_dir / "exports" / "model.onnx"))
    onnx_out = session.run(None, {"features": inputs})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is what we test here
        scripted = torch.jit.load(str(run_dir / "exports" / "model.pt"))
    script_out = scripted(torch.from_numpy(inputs.copy())).numpy()
    assert np.abs(onnx_out - expected).max() <= PARITY_TOLERANCE
    assert np.abs(script_out - expected).max() <= PARITY_TOLERANCE

    # The int8 network: smaller, close to the float one, its accuracy measured on the same rows.
    int8 = record["onnx"]["int8"]
    quantized = onnxruntime.InferenceSession(str(run_dir / "exports" / "model.int8.onnx"))
    int8_out = quantized.run(None, {"features": inputs})[0]
    assert int8["size_bytes"]["int8"] < int8["size_bytes"]["float32"] / 2
    assert 0 < np.abs(int8_out - onnx_out).max() == pytest.approx(int8["max_abs_diff"])
    names = [column.removeprefix("proba_") for column in probability]
    truth = predictions["y_true"].astype(str).map({name: i for i, name in enumerate(names)})
    for graph, out in (("float32", onnx_out), ("int8", int8_out)):
        assert int8["accuracy"][graph] == pytest.approx(np.mean(out.argmax(axis=1) == truth))
    assert int8["batch_ms"]["speedup"] > 0 and int8["rows"] == len(test_rows)


def test_a_quantized_regressor_reports_its_rmse_on_the_held_out_rows(
        in_process_cli, tmp_path) -> None:
    cli = in_process_cli
    done = cli("model=mlp", "dataset=diabetes", "split.cv.n_splits=3", "model.max_epochs=10",
               *SEARCH_ONLY[1:], "deploy=onnx", "deploy.quantize=int8")
    assert done.returncode == 0, done.stderr
    assert re.search(r"export onnx int8: exports/model.int8.onnx · rmse \d+\.\d{4} -> "
                     r"\d+\.\d{4} \([+-]\d+\.\d{4}\)", done.stdout), done.stdout
    run_dir = only_run_dir(tmp_path)
    int8 = json.loads((run_dir / "exports" / "exports.json").read_text())["onnx"]["int8"]
    predictions = pd.read_csv(run_dir / "predictions.csv")
    X = load_diabetes(as_frame=True).data.loc[predictions["row"]]
    features = load_bundle(run_dir).pipeline[:-1].transform(X).to_numpy(np.float32)
    session = onnxruntime.InferenceSession(str(run_dir / "exports" / "model.int8.onnx"))
    predicted = session.run(None, {"features": features})[0].ravel()
    rmse = np.sqrt(np.mean((predicted - predictions["y_true"].to_numpy()) ** 2))
    assert int8["rmse"]["int8"] == pytest.approx(rmse, rel=1e-5)
    assert int8["rmse"]["change"] == pytest.approx(rmse - int8["rmse"]["float32"], rel=1e-5)


HOPELESS_LR = 1e-7


def test_a_hopeless_learning_rate_is_pruned_on_epochs(run) -> None:
    result = run(
        *FAST, *SEARCH_ONLY, "tune=random", "tune.n_trials=8", "tune.pruner=median",
        "tune.pruner_options={n_startup_trials: 2}", "~model.search_space",
        f"+model.search_space.lr={{type: categorical, choices: [0.01, {HOPELESS_LR}]}}",
    )
    trials = pd.read_csv(result.run_dir / "tuning" / "trials.csv")
    pruned = trials[trials["state"] == "PRUNED"]
    assert len(pruned) >= 1
    assert (pruned["param_lr"] == HOPELESS_LR).all()
    assert (pruned["pruned_at_step"] < 19).all()  # an epoch of the first fold, not a fold
    best = json.loads((result.run_dir / "tuning" / "best.json").read_text())
    assert best["best_params"]["lr"] == 0.01
    assert load_bundle(result.run_dir).pipeline[-1].epoch_callback is None  # no trial kept


def test_a_diverging_trial_fails_cleanly_and_the_search_goes_on(run) -> None:
    result = run(
        *FAST, *SEARCH_ONLY, "tune=grid", "model.optimizer=sgd", "model.schedule=none",
        "~model.search_space",
        "+model.search_space.lr={type: categorical, choices: [1.0e+9, 0.01]}",
    )
    trials = pd.read_csv(result.run_dir / "tuning" / "trials.csv").set_index("param_lr")
    assert trials.loc[1e9, "state"] == "FAIL"
    assert "loss became" in trials.loc[1e9, "error"]
    assert "(learning rate 1e+09)" in trials.loc[1e9, "error"]
    assert trials.loc[0.01, "state"] == "COMPLETE"
    assert result.metrics["test"]["roc_auc"] > 0.95


def test_embeddings_features_feed_codes_to_the_network(run, tmp_path) -> None:
    rng = np.random.default_rng(0)
    n = 1200
    city = rng.choice([f"city_{i}" for i in range(15)], n)
    size = rng.normal(50, 10, n).round(1)
    label = np.where(np.isin(city, ["city_1", "city_4", "city_9", "city_12"]) | (size > 65),
                     "yes", "no")
    path = tmp_path / "cities.csv"
    pd.DataFrame({"city": city, "size": size, "label": label}).to_csv(path, index=False)
    result = run("dataset=titanic", f"dataset.path={path}", "dataset.target=label",
                 "dataset.drop=[]", "features=embeddings", *FAST, *SEARCH_ONLY[1:],
                 "model.max_epochs=40")
    network = load_bundle(result.run_dir).pipeline[-1]
    assert [count for _, count in network.categories_] == [15]
    assert len(network.module_.embeddings) == 1
    assert result.metrics["test"]["accuracy"] > 0.95
    unseen = read_rows(path).head(3).assign(city=["atlantis", None, "city_1"])
    predicted, warnings_seen = predict_rows(load_bundle(result.run_dir), unseen)
    assert len(predicted) == 3
    assert any("atlantis" in warning for warning in warnings_seen)


def test_a_network_of_ones_own_runs_by_pointing_module_target_at_it(
        in_process_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ENGINE_TRUSTED_TYPES", "tests.")  # a class of one's own, trusted to load
    cli = in_process_cli
    done = cli("model=torch", "model.module={_target_: tests.torch.nets.TwoLayerNet, hidden: 8}",
               "allowed_targets=[tests.]", "split.cv.n_splits=3", "model.max_epochs=20")
    assert done.returncode == 0, done.stderr
    network = load_bundle(only_run_dir(tmp_path)).pipeline[-1]
    assert type(network.module_).__name__ == "TwoLayerNet"
    assert network.module_.layers[0].out_features == 8


@pytest.mark.parametrize(("overrides", "message"), [
    (("model.device=cuda:99",), r"model.device: The 'device' parameter asks for 'cuda:99'"),
    (("+model.module.widht=8",), r"error: model\.module__widht: .*TabularMLP has no parameter "
                                 r"'widht'\. Did you mean 'module__width'\?"),
    (("+model.search_space.module__deph={type: int, low: 1, high: 3}",),
     r"TabularMLP has no parameter 'deph'\. Did you mean 'module__depth'\?"),
    (("model.optimizer=sgd", "model.lr=1e12", "model.schedule=none"),
     r"the (training|validation) loss became (nan|inf) at epoch \d+ \(learning rate 1e\+12\)"),
    (("model=torch",), r"model.module: this config needs a value here"),
    (("deploy=onnx", "metrics.calibration=sigmoid"),
     r"the onnx export of a PyTorch model holds the network alone, without metrics\.calibration"),
    (("deploy=torchscript", "+deploy.quantize=int8"),
     r"deploy\.quantize=int8 quantizes the ONNX export of a PyTorch network: it needs "
     r"deploy\.targets to include onnx"),
])
def test_mistakes_exit_2_with_one_message(in_process_cli, overrides, message) -> None:
    done = in_process_cli("model=mlp", "split.cv.n_splits=3", "model.max_epochs=3", *overrides)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(message, done.stderr), done.stderr


def test_an_export_the_model_cannot_take_is_refused_before_training(in_process_cli) -> None:
    done = in_process_cli("model=hist_gbm", "deploy=torchscript")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error: deploy.targets: torchscript exports PyTorch models" in done.stderr
    assert "model=hist_gbm is HistGradientBoostingClassifier" in done.stderr
    assert "breast_cancer:" not in done.stdout  # refused before the data loads


def test_a_bundle_whose_network_cannot_be_imported_is_refused_clearly(tmp_path, monkeypatch):
    package = tmp_path / "gone_nets"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from tests.torch.nets import TwoLayerNet\n\nclass Net(TwoLayerNet):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import gone_nets

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    pipeline = Pipeline([("model", TorchClassifier(gone_nets.Net, max_epochs=2))]).fit(X, y)
    save_bundle(tmp_path / "bundle", pipeline, {}, BundleMetadata(
        task="binary", target="target", classes=[0, 1], model="mlp", primary="roc_auc",
        metrics=BundleScores(cv={}, test={}), seed=0, data_fingerprint="", packages={},
        git=GitState(commit=None, dirty=None)))
    monkeypatch.delitem(sys.modules, "gone_nets")
    monkeypatch.setenv("ENGINE_TRUSTED_TYPES", "gone_nets.")
    shutil.rmtree(package)
    with pytest.raises(DataError, match=r"cannot be imported here \(No module named 'gone_nets'\)"):
        load_bundle(tmp_path / "bundle")
