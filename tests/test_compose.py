"""Every config file in conf/ composes and passes the checks that need no data."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hydra.errors import HydraException

from engine.config.compose import CONFIG_DIR, CONFIG_DIR_VARIABLE, compose_spec
from engine.config.hydra_errors import user_message
from engine.errors import ConfigError
from engine.experiment import validate_spec
from tests.conftest import write_user_project
from tests.torch.nets import AS_MODEL_TORCH

GROUPS = ("dataset", "features", "split", "model", "metrics", "tune", "deploy", "experiment",
          "paths")
OPTIONS = [
    (group, path.stem) for group in GROUPS for path in sorted((CONFIG_DIR / group).glob("*.yaml"))
]


def test_every_group_has_options() -> None:
    assert {group for group, _ in OPTIONS} == set(GROUPS)


# Group and time splits need the dataset to name its group or time column; model=torch needs a
# network; the torchscript export needs a PyTorch model.
NEEDS = {
    ("split", "group"): ["dataset.group_column=mean radius"],
    ("split", "time"): ["dataset.time_column=mean radius"],
    ("model", "torch"): list(AS_MODEL_TORCH),
    ("deploy", "torchscript"): ["model=mlp"],
}


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_validates(group: str, option: str) -> None:
    spec = compose_spec([f"{group}={option}", *NEEDS.get((group, option), [])])
    validate_spec(spec)
    if group in ("dataset", "model"):
        assert spec.choices[group] == option


def test_default_experiment() -> None:
    spec = compose_spec()
    assert spec.choices["dataset"] == "breast_cancer"
    assert spec.choices["model"] == "hist_gbm"
    assert spec.choices["features"] == "auto"
    assert spec.model.targets["classification"].endswith("HistGradientBoostingClassifier")
    assert spec.model.params["random_state"] == spec.seed == 42
    assert "learning_rate" in spec.model.search_space


def test_command_line_override_reaches_the_spec() -> None:
    spec = compose_spec(["model=random_forest", "model.n_estimators=7", "seed=3"])
    assert spec.model.params["n_estimators"] == 7
    assert spec.model.params["random_state"] == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["split=group"], "split.test_strategy=group needs dataset.group_column"),
        (["split=time"], "split.test_strategy=time needs dataset.time_column"),
        (["split.cv.strategy=kfld"], "Did you mean 'kfold'?"),
        (["split.test_size=2.0"], "split.test_size: 2.0 is neither a fraction"),
        (["split.cv.n_splits=1"], "split.cv.n_splits: 1 is not a whole number >= 2"),
        (["quality.fail_on=bad"], "quality.fail_on: unknown value 'bad'"),
        (["quality.leakage_threshold=2"], "quality.leakage_threshold: 2 is not a number in"),
        (["dataset.task=binay"], "dataset.task: unknown value 'binay'. Did you mean 'binary'?"),
        (["allowed_targets=mypackage."], "allowed_targets: expected a list of module prefixes"),
        (["allowed_targets=[mypackage]"], "must be a module prefix ending in '.'"),
        (["n_jobs=0"], "n_jobs: 0 workers cannot run anything"),
        (["tune.method=optuna"], "tune.method: unknown search method 'optuna'"),
        (["dataset=diabetes", "dataset.task=regression", "metrics.primary=roc_auc"],
         "'roc_auc' is a classification scorer but the task is regression"),
    ],
)
def test_settings_are_refused_before_any_data_is_loaded(overrides, message) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_spec(compose_spec(overrides))


def test_a_users_folder_adds_its_options_beside_the_engines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = write_user_project(tmp_path)
    spec = compose_spec(["dataset=churn", "model=my_logistic"], config_dir=str(conf))
    assert (spec.choices["dataset"], spec.choices["model"]) == ("churn", "my_logistic")
    assert spec.dataset.target == "churned"
    assert list(spec.allowed_targets) == ["churnlib."]
    assert compose_spec(["model=random_forest"], config_dir=str(conf)).choices["dataset"] == (
        "breast_cancer")  # the engine's defaults and options stay
    monkeypatch.setenv(CONFIG_DIR_VARIABLE, str(conf))
    assert compose_spec(["dataset=churn"]).choices["dataset"] == "churn"


def test_the_folder_is_named_never_taken_from_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = write_user_project(tmp_path)
    monkeypatch.delenv(CONFIG_DIR_VARIABLE, raising=False)
    for cwd in (tmp_path, conf):
        monkeypatch.chdir(cwd)
        with pytest.raises(HydraException) as refused:
            compose_spec(["dataset=churn"])
        assert "dataset=churn: no such option in config group 'dataset'" in user_message(
            refused.value)


def test_a_missing_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"--config-dir .*nowhere: no such directory"):
        compose_spec(config_dir=str(tmp_path / "nowhere"))
    monkeypatch.setenv(CONFIG_DIR_VARIABLE, str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"ENGINE_CONFIG_DIR .*nowhere: no such directory"):
        compose_spec()


def test_tune_models_names_a_model_of_the_users_folder(tmp_path: Path) -> None:
    conf = str(write_user_project(tmp_path))
    spec = compose_spec(["dataset=churn", "tune=tpe", "tune.models=[my_logistic,dummy]"],
                        config_dir=conf)
    validate_spec(spec)
    assert spec.candidates["my_logistic"].params["C"] == 0.5
    assert set(spec.candidates) == {"my_logistic", "dummy"}
    with pytest.raises(ConfigError, match=re.escape(
            "tune.models: no model config 'my_logistc'. Did you mean 'my_logistic'?")):
        compose_spec(["tune=tpe", "tune.models=[my_logistc]"], config_dir=conf)


def test_the_folders_allowed_targets_trust_its_own_classes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "churnlib", raising=False)
    conf = write_user_project(tmp_path)
    overrides = ["dataset=churn", "model=churn_model"]
    validate_spec(compose_spec(overrides, config_dir=str(conf)))
    (conf / "project" / "default.yaml").unlink()
    with pytest.raises(ConfigError, match=re.escape(
            "'churnlib.ChurnModel' is outside the allow-list of modules a config may load")):
        validate_spec(compose_spec(overrides, config_dir=str(conf)))
    # the fix the message suggests, pasted as written
    validate_spec(compose_spec([*overrides, "allowed_targets=[churnlib.]"], config_dir=str(conf)))
