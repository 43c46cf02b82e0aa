"""Only trusted code runs: a ``_target_`` names a class of the kind its place expects, a callable
parameter is a known family or the user's own function, and Hydra's own ``_target_``s are checked
before Hydra instantiates them. The checks test what a class is, not what it is called."""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.config.schema import FeaturesConfig, parse_section
from engine.config.spec import ModelSpec
from engine.errors import ConfigError
from engine.features.preprocessor import build_preprocessor
from engine.models.estimators import validate_model
from engine.sweep_preflight import preflight_run, preflight_sweep

USER_PACKAGE = "trustpkg"
USER_CODE = '''\
from pickle import loads
from hydra.experimental.callback import Callback
from sklearn.base import BaseEstimator, TransformerMixin


def load(path):
    """A function: never a `_target_`, whatever the allow-list."""
    return open(path).read()


def double(values):
    """The user's own function, for a callable parameter."""
    return values * 2


class Reader:
    """A class of no kind the engine builds: no fit, no transform."""

    def __init__(self, f=None):
        self.f = f


class Doubler(TransformerMixin, BaseEstimator):
    """A scikit-learn transformer."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X * 2


class Announce(Callback):
    """A Hydra callback."""
'''
LOADERS = ["torch.load", "joblib.load", "numpy.load", "pickle.loads"]
LOADER_PREFIXES = ("torch.", "joblib.", "numpy.", "pickle.")


class Payload:
    """Unpickled, it creates ``marker``: the proof that a pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return open, (str(self.marker), "w")


@pytest.fixture(scope="module")
def user_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``trustpkg``, a package of the user's own code on ``sys.path``: a function, a class of
    no kind, a transformer and a Hydra callback."""
    root = tmp_path_factory.mktemp("user_code")
    (root / USER_PACKAGE).mkdir()
    (root / USER_PACKAGE / "__init__.py").write_text(USER_CODE)
    sys.path.insert(0, str(root))
    yield f"{USER_PACKAGE}."
    sys.path.remove(str(root))
    sys.modules.pop(USER_PACKAGE, None)


def step(**config: Any) -> FeaturesConfig:
    """A features config whose one numeric block runs one step."""
    return parse_section(FeaturesConfig, {"transformers": {"numeric": {
        "dtype": "numeric", "steps": [config]}}}, "features.")


def refusal(build: Callable[[], object]) -> str:
    """The one-line message of the ConfigError ``build`` raises."""
    with pytest.raises(ConfigError) as caught:
        build()
    message = str(caught.value)
    assert "\n" not in message
    return message


STEP = "features.transformers.numeric.steps[0]"


def test_a_users_class_of_the_right_kind_is_built(user_package: str) -> None:
    preprocessor = build_preprocessor(step(_target_="trustpkg.Doubler"), allowed=(user_package,))
    assert type(preprocessor.transformers[0][1].steps[0][1]).__name__ == "Doubler"


def test_a_users_package_needs_the_allow_list(user_package: str) -> None:
    message = refusal(lambda: build_preprocessor(step(_target_="trustpkg.Doubler")))
    assert message.startswith(f"{STEP}._target_: 'trustpkg.Doubler' is outside the allow-list")
    assert "`allowed_targets=[trustpkg.]`" in message


@pytest.mark.parametrize(("target", "message"), [
    ("trustpkg.load", "'trustpkg.load' is a function, not a class; a `_target_` here names a "
                      "scikit-learn transformer class, e.g. sklearn.preprocessing.StandardScaler"),
    ("trustpkg.Reader", "'trustpkg.Reader' is not a scikit-learn transformer (it has no fit, "
                        "transform, get_params); name one such as "
                        "sklearn.preprocessing.StandardScaler"),
    ("trustpkg.Announce", "'trustpkg.Announce' is not a scikit-learn transformer (it has no "
                          "fit, transform, get_params)"),
])
def test_an_allowed_package_still_names_only_a_transformer_as_a_step(
        user_package: str, target: str, message: str) -> None:
    config = step(_target_=target, f="evil.pt")
    assert refusal(lambda: build_preprocessor(config, allowed=(user_package,))).startswith(
        f"{STEP}._target_: {message}")


def test_the_same_class_is_refused_where_another_kind_is_expected(user_package: str) -> None:
    """Doubler is built as a step (above) but is no classifier, and no Hydra callback."""
    model = ModelSpec(name="mine", targets={"classification": "trustpkg.Doubler",
                                            "regression": "sklearn.linear_model.Ridge"},
                      params={})
    assert refusal(lambda: validate_model(model, (user_package,))).startswith(
        "model._target_.classification: 'trustpkg.Doubler' is not a scikit-learn classifier "
        "(it does not subclass sklearn.base.ClassifierMixin); name one such as "
        "sklearn.ensemble.HistGradientBoostingClassifier.")
    callback = "+hydra.callbacks.mine._target_=trustpkg.Doubler"
    assert refusal(lambda: preflight_run([callback, "allowed_targets=[trustpkg.]"])) == (
        "hydra.callbacks.mine._target_: 'trustpkg.Doubler' is not a Hydra callback (it does "
        "not subclass hydra.experimental.callback.Callback); name one such as "
        "engine.tracking.leaderboard.LeaderboardCallback.")


def test_a_users_hydra_callback_passes_once_allowed(user_package: str) -> None:
    callback = "+hydra.callbacks.mine._target_=trustpkg.Announce"
    assert "outside the allow-list" in refusal(lambda: preflight_run([callback]))
    preflight_run([callback, f"allowed_targets=[{user_package}]"])


@pytest.mark.parametrize("target", LOADERS)
def test_a_loader_is_never_a_target_even_when_its_module_is_allowed(target: str) -> None:
    config = step(_target_=target, f="evil.pt")
    assert refusal(lambda: build_preprocessor(config, allowed=LOADER_PREFIXES)).startswith(
        f"{STEP}._target_: '{target}' is a function, not a class; a `_target_` here names a "
        "scikit-learn transformer class")


@pytest.mark.parametrize("name", [*LOADERS, "trustpkg.loads"])
def test_a_loader_is_never_a_callable_parameter_even_when_its_module_is_allowed(
        user_package: str, name: str) -> None:
    """``trustpkg.loads`` is pickle's, imported into the user's package: not their own code."""
    config = step(_target_="sklearn.preprocessing.FunctionTransformer", func=name)
    allowed = (*LOADER_PREFIXES, user_package)
    assert refusal(lambda: build_preprocessor(config, allowed=allowed)).startswith(
        f"{STEP}.func: '{name}' is not a function a config may pass.")


def test_the_users_own_function_is_a_callable_parameter(user_package: str) -> None:
    config = step(_target_="sklearn.preprocessing.FunctionTransformer", func="trustpkg.double")
    built = build_preprocessor(config, allowed=(user_package,)).transformers[0][1].steps[0][1]
    assert built.func.__name__ == "double" and built.func.__module__ == USER_PACKAGE


def test_hydra_prefixes_are_trusted_only_at_hydras_places() -> None:
    config = step(_target_="hydra._internal.core_plugins.basic_launcher.BasicLauncher")
    assert refusal(lambda: build_preprocessor(config)).startswith(
        f"{STEP}._target_: 'hydra._internal.core_plugins.basic_launcher.BasicLauncher' is "
        "outside the allow-list of modules a config may load (engine., sklearn., torch., "
        "optuna.).")


@pytest.mark.parametrize(("override", "message"), [
    ("hydra.launcher._target_=hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
     "hydra.launcher._target_: 'hydra._internal.core_plugins.basic_sweeper.BasicSweeper' is not "
     "a Hydra launcher (it does not subclass hydra.plugins.launcher.Launcher)"),
    ("hydra.sweeper._target_=engine.tracking.leaderboard.LeaderboardCallback",
     "hydra.sweeper._target_: 'engine.tracking.leaderboard.LeaderboardCallback' is not a Hydra "
     "sweeper (it does not subclass hydra.plugins.sweeper.Sweeper)"),
    ("+hydra.callbacks.leaderboard.inner._target_=engine.tracking.leaderboard.LeaderboardCallback",
     "hydra.callbacks.leaderboard.inner._target_: Hydra's config takes a `_target_` only at "
     "hydra.callbacks.<name>, hydra.sweeper and hydra.launcher"),
])
def test_hydras_own_targets_are_checked_by_kind(override: str, message: str) -> None:
    assert refusal(lambda: preflight_run([override])).startswith(message)


def test_a_hydra_callback_that_is_a_function_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    callback = f"+hydra.callbacks.x={{_target_: os.system, command: 'touch {marker}'}}"
    assert refusal(lambda: preflight_run([callback])).startswith(
        "hydra.callbacks.x._target_: 'os.system' is outside the allow-list")
    assert refusal(lambda: preflight_run([callback, "allowed_targets=[os.]"])).startswith(
        "hydra.callbacks.x._target_: 'os.system' is a function, not a class; a `_target_` here "
        "names a Hydra callback class")
    with pytest.raises(ConfigError, match=r"^sweep job 0 \(.*\): hydra.callbacks.x._target_: "
                                          r"'os.system' is outside the allow-list"):
        preflight_sweep(["seed=1,2", callback])
    assert not marker.exists()


@pytest.mark.parametrize(("model", "module", "message"), [
    ("engine.models.torch.TorchClassifier", "sklearn.preprocessing.StandardScaler",
     "model.module._target_: 'sklearn.preprocessing.StandardScaler' is not a torch.nn.Module (it "
     "does not subclass torch.nn.Module); name one such as engine.models.torch.TabularMLP."),
    ("engine.models.torch.TorchClassifier", "torch.load",
     "model.module._target_: 'torch.load' is a function, not a class; a `_target_` here names a "
     "torch.nn.Module class"),
    ("sklearn.ensemble.BaggingClassifier", "torch.nn.Linear",
     "model.module._target_: 'torch.nn.Linear' is not a scikit-learn estimator (it has no fit, "
     "get_params)"),
])
def test_a_model_component_is_of_its_places_kind(model: str, module: str, message: str) -> None:
    pytest.importorskip("torch")
    spec = ModelSpec(name="net", targets={"classification": model},
                     params={"module": {"_target_": module}})
    assert refusal(lambda: validate_model(spec)).startswith(message)


def test_a_malicious_pickle_named_as_a_step_never_loads(
        tmp_path: Path, in_process_cli: Callable[..., Any]) -> None:
    """``torch.load(f=evil.pt, weights_only=False)`` would unpickle a payload that creates a
    file; the CLI (``engine.cli.main``, in this process) refuses the step before anything calls
    it."""
    cli = in_process_cli
    twin = tmp_path / "twin_ran"
    pickle.loads(pickle.dumps(Payload(twin))).close()
    assert twin.exists()  # the payload is live: unpickled, it runs
    marker, evil = tmp_path / "ran", tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(Payload(marker)))
    done = cli(f"features.transformers.numeric.steps=[{{_target_: torch.load, f: '{evil}', "
               "weights_only: false}]", "allowed_targets=[torch.]")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "error: features.transformers.numeric.steps[0]._target_: 'torch.load' is a function, "
        "not a class; a `_target_` here names a scikit-learn transformer class, e.g. "
        "sklearn.preprocessing.StandardScaler (a function goes in FunctionTransformer's func, "
        "e.g. numpy.log1p)."]
    assert not marker.exists()


def test_a_sweep_with_a_hydra_callback_that_is_no_callback_starts_nothing(
        tmp_path: Path, cli: Callable[..., Any]) -> None:
    marker = tmp_path / "ran"
    done = cli("-m", "seed=1,2", "allowed_targets=[os.]",
               f"+hydra.callbacks.x={{_target_: os.system, command: 'touch {marker}'}}")
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: sweep job 0 (") and line.endswith(
        "hydra.callbacks.x._target_: 'os.system' is a function, not a class; a `_target_` here "
        "names a Hydra callback class, e.g. engine.tracking.leaderboard.LeaderboardCallback. "
        "No job was started.")
    assert not marker.exists() and not (tmp_path / "multiruns").exists()
