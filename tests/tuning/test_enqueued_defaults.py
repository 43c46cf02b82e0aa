"""The search starts from each candidate's configured defaults, then a cheap variant, once per
study: real runs on real Optuna studies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import optuna
import pandas as pd
import pytest

from engine.experiment import RunResult
from engine.tuning.enqueue import starting_trials
from engine.tuning.pipeline_space import PipelineSpace, pipeline_space
from engine.tuning.space import Param
from tests.conftest import FAST, compose_spec

Run = Callable[..., RunResult]
SEARCH_ONLY = (*FAST, "tune.plots=false", "report=false", "metrics.bootstrap.resamples=0",
               "metrics.explain.importance_repeats=0")
HIST_GBM_DEFAULTS = {"learning_rate": 0.1, "max_iter": 100, "max_leaf_nodes": 31,
                     "min_samples_leaf": 20}


@pytest.fixture(autouse=True)
def studies_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_OUTPUT_DIR", str(tmp_path / "outputs"))


def trials(result: RunResult) -> pd.DataFrame:
    return pd.read_csv(result.run_dir / "tuning" / "trials.csv")


def study_of(result: RunResult) -> optuna.Study:
    tuning = result.metrics["tuning"]
    return optuna.load_study(study_name=tuning["study_name"],
                             storage=optuna.storages.JournalStorage(
                                 optuna.storages.journal.JournalFileBackend(tuning["storage"])))


def test_trial_0_is_the_models_defaults_and_trial_1_its_cheap_variant(run: Run) -> None:
    result = run("model=hist_gbm", "tune=random", "tune.n_trials=3", *SEARCH_ONLY)
    table = trials(result)
    first, cheap = table.iloc[0], table.iloc[1]
    assert {name: first[f"param_{name}"] for name in HIST_GBM_DEFAULTS} == HIST_GBM_DEFAULTS
    # l2_regularization 0.0 is below the log range's low end: clipped into it.
    assert first["param_l2_regularization"] == pytest.approx(1.0e-6)
    # The cheap start: the fewest boosting rounds and leaves the space allows, the rest default.
    assert (cheap["param_max_iter"], cheap["param_max_leaf_nodes"]) == (50, 8)
    assert cheap["param_learning_rate"] == 0.1
    starts = [t.user_attrs.get("start") for t in study_of(result).trials]
    assert starts == ["defaults", "cheap", None]


def test_a_search_across_families_starts_from_each_familys_defaults(run: Run) -> None:
    result = run("model=logistic_regression", "tune=tpe", "tune.n_trials=3",
                 "tune.models=[logistic_regression, knn]", *SEARCH_ONLY)
    table = trials(result)
    assert list(table["param_model"][:2]) == ["logistic_regression", "knn"]
    assert table["param_logistic_regression.C"][0] == 1.0
    assert table["param_knn.n_neighbors"][1] == 15


def test_a_resumed_study_is_not_seeded_twice(run: Run) -> None:
    first = run("model=knn", "tune=random", "tune.n_trials=2", "tune.study_name=seeded",
                *SEARCH_ONLY)
    run("model=knn", "tune=random", "tune.n_trials=4", "tune.study_name=seeded", *SEARCH_ONLY)
    starts = [t.user_attrs.get("start") for t in study_of(first).trials]
    assert starts == ["defaults", None, None, None]


def test_defaults_are_clipped_and_stepped_into_the_space_or_left_to_the_sampler() -> None:
    model = compose_spec(["model=random_forest"]).model
    space = pipeline_space(model, None, families={}, task="binary")
    params = {p.name: p for p in space.params}
    defaults = {"model__n_estimators": 1000, "model__max_depth": None}
    [(label, trial), *cheap] = starting_trials(space, defaults)
    assert label == "defaults"
    assert trial.get("n_estimators") == params["n_estimators"].high
    assert "max_depth" not in trial  # None fits no int range: the sampler draws it
    assert cheap == [("cheap", {**trial, "n_estimators": params["n_estimators"].low})]
    stepped = Param("depth", "model__depth", "int", low=2, high=32, step=2)
    assert starting_trials(PipelineSpace((stepped,)), {"model__depth": 8.6}) == [
        ("defaults", {"depth": 8})]
