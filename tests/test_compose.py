"""Every config file in conf/ composes and passes the checks that need no data."""

from __future__ import annotations

import pytest

from engine.config.compose import CONFIG_DIR, compose_spec
from engine.experiment import validate_spec

GROUPS = ("dataset", "features", "split", "model", "metrics", "tune", "deploy", "experiment",
          "paths")
OPTIONS = [
    (group, path.stem) for group in GROUPS for path in sorted((CONFIG_DIR / group).glob("*.yaml"))
]


def test_every_group_has_options() -> None:
    assert {group for group, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_validates(group: str, option: str) -> None:
    spec = compose_spec([f"{group}={option}"])
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
