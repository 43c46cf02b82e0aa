"""A search across model families scores what each family answers: ROC AUC from an SVC's
decision_function, log loss left out for it with one warning, an objective some family cannot
answer refused before any trial; and the messages of a failing trial and a changed space."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import optuna
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from engine.config.compose import compose_spec
from engine.data.sources import load_dataset
from engine.errors import ConfigError, EngineError
from engine.experiment import RunResult
from engine.run_plan import make_plan
from engine.tuning.objective import CVObjective, trial_pipeline_params
from engine.tuning.pipeline_space import space_for
from engine.tuning.search import space_changes
from engine.tuning.storage import open_storage
from tests.conftest import FAST, only_run_dir, run_main

Run = Callable[..., RunResult]
README_SEARCH = ("tune=tpe", "tune.models=[logistic_regression,svm,hist_gbm]")
QUICK = (*FAST, "tune.plots=false", "metrics.explain.importance_repeats=0")
SVM_WARNING = ("metrics: model family svm (SVC) has no predict_proba, so its trials and, should "
               "it win, its test scores leave out neg_log_loss")  # run.json drops the stop


@pytest.fixture(autouse=True)
def studies_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_OUTPUT_DIR", str(tmp_path / "outputs"))


def test_the_readme_search_across_families_runs_and_warns_once(tmp_path: Path) -> None:
    result = run_main([*README_SEARCH, "tune.n_trials=6", *QUICK], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("model family svm (SVC) has no predict_proba") == 1
    run_dir = only_run_dir(tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    assert [w["message"] for w in run["warnings"] if "model family" in w["message"]] == [
        SVM_WARNING]
    assert run["model"] == "svm", "seed 42's first draws are all svm: the winner lacks log loss"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for scores in (metrics["cv"], metrics["test"], metrics["test_intervals"]):
        assert "roc_auc" in scores and "accuracy" in scores
        assert "neg_log_loss" not in scores
    assert "neg_log_loss" not in pd.read_csv(run_dir / "cv_scores.csv").columns
    assert "roc_auc" in (run_dir / "report.html").read_text()


def test_each_family_is_scored_on_what_it_answers(run: Run, tmp_path: Path) -> None:
    result = run("tune=tpe", "tune.models=[logistic_regression,svm]", "seed=0",
                 "tune.n_trials=4", *QUICK, "report=false")
    name = result.metrics["tuning"]["study_name"]
    study = optuna.load_study(study_name=name, storage=open_storage(
        None, name, tmp_path / "outputs" / "studies"))
    families = {t.params["model"] for t in study.trials}
    assert "svm" in families and len(families) > 1, "seed 0's draws no longer span families"
    for trial in study.trials:
        assert trial.state.name == "COMPLETE"
        cv = trial.user_attrs["cv"]
        assert "roc_auc" in cv
        assert ("neg_log_loss" in cv) == (trial.params["model"] != "svm")


def test_an_svm_trial_scores_roc_auc_from_its_decision_function() -> None:
    spec = compose_spec([*README_SEARCH, *FAST])
    plan = make_plan(spec, load_dataset(spec.dataset, seed=spec.seed))
    X, y = plan.X_train, plan.y_train
    space = space_for(spec, plan.data.task, spec.candidates, list(X.columns))
    objective = CVObjective(plan.pipeline, X, y, plan.folds, plan.metrics, space, ("roc_auc",))
    study = optuna.create_study(direction="maximize")
    params = {"model": "svm", "svm.C": 1.0, "svm.kernel": "rbf", "svm.gamma": 0.01}
    study.enqueue_trial(params)
    study.optimize(objective, n_trials=1)
    cv = study.trials[0].user_attrs["cv"]
    assert "neg_log_loss" not in cv and "neg_log_loss" in plan.metrics.scorers
    pipeline = clone(plan.pipeline).set_params(**trial_pipeline_params(space, params))
    for value, (train, test) in zip(cv["roc_auc"]["folds"], plan.folds, strict=True):
        model = clone(pipeline).fit(X.iloc[train], y[train])
        assert not hasattr(model, "predict_proba")
        assert value == roc_auc_score(y[test], model.decision_function(X.iloc[test]))


@pytest.mark.parametrize(("overrides", "message"), [
    (["metrics.primary=neg_log_loss"],
     "metrics.primary=neg_log_loss: model family svm in tune.models cannot be scored on it: "
     "neg_log_loss needs predict_proba, which SVC lacks. Choose an objective every family "
     "answers (e.g. roc_auc), or drop svm from tune.models."),
    (["tune.objectives=[neg_log_loss]"],
     "tune.objectives=neg_log_loss: model family svm in tune.models cannot be scored on it"),
])
def test_an_objective_a_family_cannot_answer_is_refused_before_any_trial(
        tmp_path: Path, overrides: list[str], message: str) -> None:
    result = run_main([*README_SEARCH, "tune.n_trials=6", *QUICK, *overrides], tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list((tmp_path / "studies").glob("*")), "a study was opened"


def test_a_trial_whose_model_lacks_the_objective_names_that_cause(run: Run) -> None:
    """An SGDClassifier gives probabilities only for some losses: a space that draws hinge
    fails every trial, and the message says why and what to change."""
    with pytest.raises(EngineError) as raised:
        run("model=logistic_regression", "tune=random", "tune.n_trials=5",
            "model._target_={classification: sklearn.linear_model.SGDClassifier}", "~model.C",
            "+model.loss=log_loss", "~model.search_space",
            "+model.search_space={loss: {type: categorical, choices: [hinge]}}",
            "metrics.primary=neg_log_loss", *QUICK)
    message = str(raised.value)
    assert "First failure (trial 0): neg_log_loss needs predict_proba, which this trial's " \
           "SGDClassifier lacks." in message
    assert "choose metrics.primary and tune.objectives that every trial's model answers " \
           "(e.g. roc_auc), or a search_space whose every draw gives predict_proba" in message
    assert "fix the model or its search_space" not in message


def test_resuming_a_study_whose_space_changed_names_each_changed_parameter(run: Run) -> None:
    common = ("model=knn", "tune=random", "tune.study_name=changed", "tune.n_trials=2", *QUICK,
              "report=false")
    run(*common)
    with pytest.raises(ConfigError) as raised:
        run(*common, "model.search_space.n_neighbors.high=50",
            "model.search_space.weights.choices=[uniform]", "~model.search_space.p")
    assert str(raised.value) == (
        "tune.study_name=changed: the search space changed since the study began: "
        "n_neighbors was int from 1 to 100 (log), is now int from 1 to 50 (log); "
        "weights was categorical [uniform, distance], is now categorical [uniform]; "
        "p was categorical [1, 2], is now not searched. Name a new study for this space "
        "(tune.study_name=<new name>), or revert the search_space to resume this one.")


def test_space_changes_reads_steps_and_new_parameters() -> None:
    stored = {"max_depth": ["int", 2.0, 32.0, 2.0, False, []]}
    current = {**stored, "learning_rate": ["float", 0.01, 0.3, None, True, []]}
    assert space_changes(stored, current) == (
        "learning_rate was not searched, is now float from 0.01 to 0.3 (log)")
    assert space_changes(stored, {"max_depth": ["int", 2.0, 16.0, 2.0, False, []]}) == (
        "max_depth was int from 2 to 32 in steps of 2, is now int from 2 to 16 in steps of 2")
