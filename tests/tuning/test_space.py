"""Search spaces from YAML: parsing, conditions, model families and their errors."""

from __future__ import annotations

import optuna
import pytest

from engine.config.compose import compose_spec
from engine.errors import ConfigError
from engine.experiment import validate_spec
from engine.tuning.pipeline_space import pipeline_space, space_for
from engine.tuning.space import parse_space


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "int", "low": 2, "high": 9}, ("int", 2, 9, None, False)),
        ({"type": "int", "low": 2, "high": 32, "step": 2}, ("int", 2, 32, 2, False)),
        ({"type": "float", "low": 1e-3, "high": 10.0, "log": True},
         ("float", 1e-3, 10.0, None, True)),
        ({"type": "float", "low": 0.0, "high": 1.0, "step": 0.25},
         ("float", 0.0, 1.0, 0.25, False)),
    ],
)
def test_numeric_parameters(spec: dict, expected: tuple) -> None:
    (param,) = parse_space({"p": spec}, prefix="model__", section="model.search_space")
    assert (param.kind, param.low, param.high, param.step, param.log) == expected
    assert param.key == "model__p"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "int", "low": 9, "high": 2},
         r"p: `low <= high` must hold, but got \(low=9, high=2\)"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True},
         r"p: a log-scale range needs low > 0, but got low=0.0"),
        ({"type": "float", "low": 1, "high": 2, "step": 0.5, "log": True}, "cannot be combined"),
        ({"type": "int", "low": 1.5, "high": 3}, r"p\.low: must be an integer, got 1\.5"),
        ({"type": "float", "high": 3}, r"p\.low is required but is not set"),
        ({"type": "floatt", "low": 0, "high": 1}, "Did you mean 'float'"),
        ({"type": "float", "low": 0, "hihg": 1},
         r"p\.hihg: unknown key\. Did you mean 'high'"),
        ({"type": "categorical", "choices": []}, r"p\.choices is empty"),
        ({"type": "float", "low": "a", "high": 1}, r"p\.low: must be a number, got 'a'"),
        ("0.1", r"p: expected a mapping, got '0\.1'"),
        ({"type": "float", "low": float("inf"), "high": 1},
         r"p\.low: must be a finite number, got inf"),
    ],
)
def test_bad_parameters_name_the_key(spec: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_space({"p": spec}, prefix="model__", section="model.search_space")


def test_a_space_that_is_no_mapping_names_its_key() -> None:
    with pytest.raises(ConfigError, match=r"^model=knn: search_space: expected a mapping, "
                                          r"got \['C'\]\.$"):
        parse_space(["C"], prefix="model__", section="model=knn: search_space")  # type: ignore[arg-type]


def test_conditional_parameter_is_drawn_only_for_its_parent_values() -> None:
    space = pipeline_space(compose_spec(["model=svm"]).model, None)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = []
    for _ in range(40):
        trial = study.ask()
        params = space.suggest(trial)
        seen.append(params)
        study.tell(trial, 0.0)
    for params in seen:
        kernel = params["model__kernel"]
        assert ("model__gamma" in params) == (kernel in ("rbf", "poly"))
        assert ("model__degree" in params) == (kernel == "poly")
    assert {p["model__kernel"] for p in seen} == {"rbf", "linear", "poly"}


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"kernl": "rbf"},
         "'kernl' is not a categorical parameter declared before 'gamma'. Did you mean 'kernel'"),
        ({"kernel": "rbff"}, r"'rbff' is not one of kernel's choices \['rbf', 'linear'\]"),
        ({"C": 1.0}, "'C' must be a categorical parameter"),
    ],
)
def test_bad_conditions(when: dict, message: str) -> None:
    space = {
        "C": {"type": "float", "low": 0.1, "high": 1.0},
        "kernel": {"type": "categorical", "choices": ["rbf", "linear"]},
        "gamma": {"type": "float", "low": 0.1, "high": 1.0, "when": when},
    }
    with pytest.raises(ConfigError, match=message):
        parse_space(space, prefix="model__", section="model.search_space")


def test_unknown_estimator_parameter_gets_did_you_mean() -> None:
    spec = compose_spec(["model=random_forest", "tune=tpe",
                         "+model.search_space.n_estimatorz={type: int, low: 5, high: 9}"])
    with pytest.raises(ConfigError, match=r"n_estimatorz.*Did you mean 'n_estimators'"):
        validate_spec(spec)


def test_feature_parameters_are_searchable_and_checked() -> None:
    good = compose_spec([
        "tune=tpe",
        "+features.search_space={numeric__simpleimputer__strategy: "
        "{type: categorical, choices: [mean, median]}}",
    ])
    space = space_for(good, "binary", {}, None)
    assert "features__numeric__simpleimputer__strategy" in {p.key for p in space.params}
    bad = compose_spec([
        "tune=tpe",
        "+features.search_space={numeric__simpleimputer__strategi: "
        "{type: categorical, choices: [mean, median]}}",
    ])
    with pytest.raises(ConfigError, match="Did you mean 'numeric__simpleimputer__strategy'"):
        validate_spec(bad)


def test_ranges_are_overridden_from_the_command_line() -> None:
    spec = compose_spec(["model=random_forest", "model.search_space.n_estimators.high=160"])
    (param,) = [p for p in pipeline_space(spec.model, None).params if p.name == "n_estimators"]
    assert param.high == 160


def test_model_families_are_one_categorical_with_their_own_spaces() -> None:
    spec = compose_spec(["tune=random", "tune.models=[logistic_regression,knn]"])
    space = space_for(spec, "binary", spec.candidates, None)
    names = {p.name for p in space.params}
    assert "model" in names
    assert {"logistic_regression.C", "knn.n_neighbors"} <= names
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(10):
        trial = study.ask()
        params = space.suggest(trial)
        family = trial.params["model"]
        estimator = type(params["model"]).__name__
        assert estimator == {"logistic_regression": "LogisticRegression",
                             "knn": "KNeighborsClassifier"}[family]
        assert all(name.startswith(f"{family}.") for name in trial.params if name != "model")
        study.tell(trial, 0.0)


def test_unknown_model_family_gets_did_you_mean() -> None:
    with pytest.raises(ConfigError, match=r"tune.models: no model config 'random_forrest'. "
                                          r"Did you mean 'random_forest'"):
        compose_spec(["tune=tpe", "tune.models=[random_forrest]"])


def test_grid_needs_steps_for_floats() -> None:
    spec = compose_spec(["model=logistic_regression", "tune=grid"])
    with pytest.raises(ConfigError, match="grid needs a `step` for the float parameter 'C'"):
        space_for(spec, "binary", {}, None).grid()
