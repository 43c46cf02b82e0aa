"""The PyTorch estimators: learning, determinism, options, pickling and the error cases."""

from __future__ import annotations

import pickle
import pickletools

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, r2_score
from sklearn.model_selection import train_test_split

from engine.errors import ConfigError
from engine.models.torch import TabularMLP, TorchClassifier, TorchRegressor
from engine.models.torch.loop import TrainingDiverged
from tests.torch.nets import OneOutputNet, TenInputNet, TwoLayerNet

BASE = {"max_epochs": 30, "device": "cpu", "random_state": 0}
FAST = {**BASE, "module__width": 64}


def rings(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two noisy concentric rings plus four noise columns: no line separates them."""
    rng = np.random.default_rng(seed)
    radius = np.where(rng.random(n) < 0.5, 1.0, 2.0)
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle),
                         rng.standard_normal((n, 4))]) + rng.normal(0, 0.15, (n, 6))
    return X.astype(np.float32), (radius > 1.5).astype(int)


def test_learns_a_nonlinear_problem_far_above_a_linear_baseline() -> None:
    X, y = rings()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    linear = LogisticRegression().fit(X_train, y_train).score(X_test, y_test)
    network = TorchClassifier(**FAST).fit(X_train, y_train)
    assert linear < 0.65
    assert network.score(X_test, y_test) > 0.95
    assert network.predict_proba(X_test).sum(axis=1) == pytest.approx(1.0)


def test_regressor_predicts_in_the_targets_units() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (1500, 3)).astype(np.float32)
    y = 1000 * np.sin(X[:, 0]) + 50 * X[:, 1] + 5000
    model = TorchRegressor(**{**FAST, "max_epochs": 60}).fit(X[:1200], y[:1200])
    assert r2_score(y[1200:], model.predict(X[1200:])) > 0.95
    assert model.predict(X[1200:]).mean() == pytest.approx(y[1200:].mean(), rel=0.02)


def test_same_seed_same_predictions_other_seed_other_predictions() -> None:
    X, y = rings(400)
    params = {**FAST, "max_epochs": 5, "module__dropout": 0.2}
    first = TorchClassifier(**params).fit(X, y).predict_proba(X)
    again = TorchClassifier(**params).fit(X, y).predict_proba(X)
    other = TorchClassifier(**{**params, "random_state": 1}).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("schedule", ["none", "cosine", "onecycle", "plateau"])
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_every_optimizer_and_schedule_lowers_the_loss(optimizer: str, schedule: str) -> None:
    X, y = rings(400)
    sgd = optimizer == "sgd"
    routed = {"optimizer__momentum": 0.9} if sgd else {}
    model = TorchClassifier(**{**FAST, "max_epochs": 8}, optimizer=optimizer, **routed,
                            lr=0.05 if sgd else 3e-3,
                            schedule=schedule, patience=None, batch_size=32).fit(X, y)
    assert model.n_epochs_ == 8
    assert model.train_loss_[-1] < 0.8 * model.train_loss_[0]


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_norms_residual_blocks_and_gradient_clipping_train(norm: str) -> None:
    X, y = rings(600)
    model = TorchClassifier(**FAST, module__depth=3, module__norm=norm, module__residual=True,
                            module__activation="gelu", grad_clip=1.0).fit(X, y)
    assert model.score(X, y) > 0.9


def test_hidden_sizes_override_width_and_depth() -> None:
    X, y = rings(300)
    model = TorchClassifier(**FAST, module__hidden_sizes=[48, 24, 24],
                            module__residual=True).fit(X, y)
    assert [block[0].out_features for block in model.module_.hidden] == [48, 24, 24]
    assert model.module_.skips == [False, False, True]  # only where the widths agree


def test_early_stopping_keeps_the_best_epochs_weights() -> None:
    X, y = rings(600)
    y = np.where(np.random.default_rng(1).random(len(y)) < 0.3, 1 - y, y)  # noisy: it overfits
    params = {**FAST, "max_epochs": 200, "module__width": 256, "lr": 1e-2, "schedule": "none"}
    stopped = TorchClassifier(**params, patience=3).fit(X, y)
    assert stopped.n_epochs_ < 200
    assert stopped.best_epoch_ == int(np.argmin(stopped.validation_loss_))
    assert stopped.n_epochs_ == stopped.best_epoch_ + 3 + 2
    # The same seed trained for exactly best_epoch + 1 epochs has the weights it kept.
    short = TorchClassifier(**{**params, "max_epochs": stopped.best_epoch_ + 1},
                            patience=None).fit(X, y)
    np.testing.assert_allclose(stopped.predict_proba(X), short.predict_proba(X), atol=1e-6)


def test_balanced_class_weights_find_more_of_the_rare_class() -> None:
    X, y = rings(2000)
    rare = np.flatnonzero(y == 1)[:60]
    keep = np.concatenate([np.flatnonzero(y == 0), rare])
    X, y = X[keep], y[keep]
    plain = TorchClassifier(**FAST).fit(X, y)
    weighted = TorchClassifier(**FAST, class_weight="balanced").fit(X, y)
    assert balanced_accuracy_score(y, weighted.predict(X)) > balanced_accuracy_score(
        y, plain.predict(X))


def test_integer_code_columns_are_embedded() -> None:
    rng = np.random.default_rng(0)
    n = 1500
    city = rng.integers(0, 12, n)  # the label depends on the code, not on its size
    frame = pd.DataFrame({"city": city, "noise": rng.standard_normal(n)})
    y = np.isin(city, [1, 4, 6, 11]).astype(int)
    model = TorchClassifier(**FAST).fit(frame, y)
    assert model.categories_ == [(0, 12)]
    assert len(model.module_.embeddings) == 1
    assert model.score(frame, y) > 0.97
    unseen = pd.DataFrame({"city": [-1, -2, 40], "noise": [0.0, 0.0, 0.0]})
    probabilities = model.predict_proba(unseen)
    np.testing.assert_array_equal(probabilities[2], probabilities[0])  # above training: unseen
    numeric = TorchClassifier(**FAST, categorical_features=None).fit(frame, y)
    assert numeric.categories_ == []


def test_auto_leaves_wide_ranging_integer_columns_numeric() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"amount": rng.integers(0, 100_000, 400), "city": rng.integers(0, 5, 400)})
    model = TorchClassifier(**{**FAST, "max_epochs": 2}).fit(frame, rng.integers(0, 2, 400))
    assert model.categories_ == [(1, 5)]


def test_a_last_batch_of_one_row_does_not_break_batch_norm() -> None:
    X, y = rings(300)  # 270 training rows after the 10 % validation split
    model = TorchClassifier(**FAST, module__norm="batch", batch_size=269).fit(X, y)
    assert model.n_epochs_ >= 1


def test_without_early_stopping_the_last_epoch_is_kept() -> None:
    X, y = rings(300)
    model = TorchClassifier(**{**FAST, "max_epochs": 6}, patience=None).fit(X, y)
    assert model.best_epoch_ == 5


def test_class_weights_must_name_the_classes() -> None:
    X, y = rings(200)
    with pytest.raises(ConfigError, match=r"model.class_weight: .*The classes are: 0, 1"):
        TorchClassifier(**FAST, class_weight={"a": 1.0, "b": 2.0}).fit(X, y)


def test_named_categorical_features_must_exist() -> None:
    frame = pd.DataFrame({"city": [0, 1, 2, 0], "size": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ConfigError, match=r"no input column 'cty'\. Did you mean 'city'\?"):
        TorchClassifier(**FAST, categorical_features=["cty"]).fit(frame, [0, 1, 0, 1])
    with pytest.raises(ConfigError, match=r"size hold values that are not category codes"):
        TorchClassifier(**FAST, categorical_features=["size"]).fit(frame * 1.5, [0, 1, 0, 1])


def test_routed_parameters_reach_module_and_optimizer_and_survive_clone() -> None:
    X, y = rings(300)
    model = TorchClassifier(**FAST, module__depth=3, optimizer="sgd", optimizer__momentum=0.9)
    model.set_params(module__width=48, optimizer__nesterov=True)
    copy = clone(model)
    assert copy.get_params()["module__width"] == 48
    assert copy.get_params()["optimizer__nesterov"] is True
    copy.fit(X, y)
    assert copy.module_.hidden[0][0].out_features == 48
    assert len(copy.module_.hidden) == 3


def test_the_epoch_callback_gets_each_epochs_loss_and_survives_clone_and_pickle() -> None:
    X, y = rings(300)
    seen: list[tuple[int, float]] = []
    model = TorchClassifier(**{**FAST, "max_epochs": 5}, patience=None,
                            epoch_callback=lambda epoch, loss: seen.append((epoch, loss)))
    copy = clone(model)
    assert copy.get_params()["epoch_callback"] is model.epoch_callback
    copy.fit(X, y)
    assert [epoch for epoch, _ in seen] == list(range(5))
    assert [loss for _, loss in seen] == copy.validation_loss_
    restored = pickle.loads(pickle.dumps(copy.set_params(epoch_callback=None)))
    assert restored.epoch_callback is None
    np.testing.assert_array_equal(restored.predict_proba(X), copy.predict_proba(X))


@pytest.mark.parametrize(("params", "message"), [
    ({"module__widht": 8}, r"'module__widht': TabularMLP has no parameter 'widht'\. "
                           r"Did you mean 'module__width'\?"),
    ({"optimizer__momentum": 0.9}, r"AdamW has no parameter 'momentum'"),
    ({"optimizer__lr": 0.1}, r"'optimizer__lr'.*use the 'lr' parameter"),
    ({"module__n_features": 3}, r"'module__n_features'.*set from the data"),
    ({"lrr": 0.1}, r"has no parameter 'lrr'\. Did you mean 'lr'\?"),
    ({"schedule": "cosin"}, r"'schedule' parameter of TorchClassifier must be a str among"),
    ({"module__norm": "group"}, r"unknown norm 'group'; valid options: none, batch, layer"),
])
def test_bad_parameters_are_named_with_the_fix(params: dict, message: str) -> None:
    X, y = rings(100)
    with pytest.raises((ValueError, ConfigError), match=message):
        TorchClassifier(**{**FAST, **params}).fit(X, y)


def test_a_missing_cuda_device_gets_a_clear_message() -> None:
    X, y = rings(100)
    with pytest.raises(ValueError, match=r"'device' parameter asks for 'cuda:99'.*CUDA device"):
        TorchClassifier(**{**FAST, "device": "cuda:99"}).fit(X, y)


def test_a_nan_loss_names_the_epoch_and_learning_rate() -> None:
    X, y = rings(300)
    with pytest.raises(TrainingDiverged, match=r"loss became (nan|inf) at epoch \d+ "
                                               r"\(learning rate 1e\+12\)\. Lower model\.lr"):
        TorchClassifier(**FAST, optimizer="sgd", lr=1e12, schedule="none").fit(X * 1e3, y)


def test_shape_mismatches_name_the_columns() -> None:
    frame = pd.DataFrame(rings(200)[0], columns=[f"sensor_{i}" for i in range(6)])
    y = rings(200)[1]
    with pytest.raises(ConfigError, match=r"TenInputNet cannot take the 6 input columns "
                                          r"\(sensor_0, sensor_1, .*sensor_5\)"):
        TorchClassifier(TenInputNet, **BASE).fit(frame, y)
    with pytest.raises(ConfigError, match=r"OneOutputNet returns outputs of shape \(2, 1\).*"
                                          r"2-class target needs \(2, 2\)"):
        TorchClassifier(OneOutputNet, **BASE).fit(frame, y)
    model = TorchClassifier(TwoLayerNet, **BASE).fit(frame, y)
    with pytest.raises(ValueError, match=r"sensor_5"):
        model.predict(frame.drop(columns="sensor_5"))


def test_pickle_keeps_weights_as_a_state_dict_never_a_module_object() -> None:
    X, y = rings(300)
    model = TorchClassifier(**FAST, module__norm="batch").fit(X, y)
    blob = pickle.dumps(model)
    globals_named = {arg for op, arg, _ in pickletools.genops(blob)
                     if op.name in ("GLOBAL", "STACK_GLOBAL") and isinstance(arg, str)}
    strings = [arg for op, arg, _ in pickletools.genops(blob) if isinstance(arg, str)]
    assert not any("torch.nn.modules" in s or "_rebuild_tensor" in s for s in strings)
    assert not any("torch.nn" in s for s in globals_named)
    restored = pickle.loads(blob)
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert isinstance(restored.module_, TabularMLP)
    assert not restored.module_.training
    assert torch.equal(restored.module_.head.weight, model.module_.head.weight)


@pytest.mark.slow  # torch.compile's inductor builds C++ kernels first: CI's `pytest -m slow`
def test_compiled_training_matches_eager_training() -> None:
    X, y = rings(300)
    params = {**FAST, "max_epochs": 3, "module__width": 16}
    compiled = TorchClassifier(**params, compile=True).fit(X, y)
    eager = TorchClassifier(**params).fit(X, y)
    np.testing.assert_allclose(compiled.predict_proba(X), eager.predict_proba(X), atol=1e-5)
    assert isinstance(pickle.loads(pickle.dumps(compiled)).module_, TabularMLP)
