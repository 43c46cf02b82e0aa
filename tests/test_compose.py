"""Every config file in conf/ composes and passes the checks that need no data."""

from __future__ import annotations

import re

import pytest

from engine.config.compose import CONFIG_DIR, compose_spec
from engine.errors import ConfigError
from engine.experiment import validate_spec
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
