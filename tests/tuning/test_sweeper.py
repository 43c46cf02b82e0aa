"""The Optuna sweeper: overrides as distributions, trials as jobs, resume, failures, seeds."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import optuna
import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from engine.errors import ConfigError
from engine.sweep_preflight import preflight_sweep
from engine.tuning.storage import open_storage
from engine.tuning.sweep_space import parse_sweep

# Each job without the report, test intervals and importances, which these tests do not read.
OPTUNA = ("-m", "hydra/sweeper=optuna", "dataset=iris", "split.cv.n_splits=3", "report=false",
          "metrics.bootstrap.resamples=0", "metrics.explain.importance_repeats=0")
KNN = ("model=knn", "model.n_neighbors=int(interval(1,30))", "model.weights=uniform,distance")


@pytest.mark.parametrize(("override", "expected"), [
    ("dataset=iris,wine", CategoricalDistribution(["iris", "wine"])),
    ("model.weights=choice(uniform,distance)", CategoricalDistribution(["uniform", "distance"])),
    ("model.max_iter=range(20,200)", IntDistribution(20, 199)),
    ("a=range(0,100,10)", IntDistribution(0, 90, step=10)),
    ("a=range(10,0,-2)", IntDistribution(2, 10, step=2)),
    ("a=range(0.0,1.0,0.25)", FloatDistribution(0.0, 0.75, step=0.25)),
    ("a=interval(0.1,10)", FloatDistribution(0.1, 10.0)),
    ("a=int(interval(1,50))", IntDistribution(1, 50)),
    ("a=tag(log,interval(1e-3,100))", FloatDistribution(1e-3, 100.0, log=True)),
    ("a=tag(log,int(interval(1,100)))", IntDistribution(1, 100, log=True)),
    ("a=tag(log,range(1,100))", IntDistribution(1, 99, log=True)),
])
def test_sweep_overrides_map_to_optuna_distributions(override: str, expected: object) -> None:
    space = parse_sweep([override])
    assert list(space.distributions().values()) == [expected]
    assert space.fixed == ()


@pytest.mark.parametrize(("override", "message"), [
    ("a=interval(5,1)", r"override 'a=interval\(5,1\)': the low end 5.0 is above the high end 1.0"),
    ("a=int(interval(9,2))", "the low end 9 is above the high end 2"),
    ("a=range(5,1)", r"range\(5, 1, 1\) holds no value: Hydra's range stops before its end"),
    ("a=range(1,5,0)", "a range's step cannot be 0"),
    ("a=tag(log,interval(0,1))", "a log scale needs a low end above 0, got 0.0"),
    ("a=tag(log,int(interval(-1,5)))", "a log scale needs a low end above 0, got -1"),
    ("a=tag(log,range(1,10,2))", "a log scale takes no step"),
    ("a=tag(log,choice(x,y))", "a choice has no scale"),
    ("a=tag(lgo,interval(1,2))", "unknown tag 'lgo'. Did you mean 'log'?"),
    ("model=glob(*)", r"the Optuna sweeper cannot expand glob\(...\); list the choices instead"),
])
def test_bad_ranges_are_one_error_naming_the_override(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_sweep([override])


def test_trial_overrides_parse_back_to_the_sampled_values() -> None:
    space = parse_sweep(["split.cv.n_splits=3", "a='x y',[1,2],null,true,1", "b=interval(0,1)"])
    assert space.fixed == ("split.cv.n_splits=3",)
    parser = OverridesParser.create()
    for choice, value in [("x y", "x y"), ("[1,2]", [1, 2]), (None, None), (True, True), (1, 1)]:
        overrides = space.trial_overrides({"a": choice, "b": 1e-5})
        swept = {o.key_or_group: o.value() for o in parser.parse_overrides(overrides)}
        assert swept["a"] == value and type(swept["a"]) is type(value)
        assert swept["b"] == 1e-5


def test_a_later_override_of_a_key_replaces_the_earlier_one() -> None:
    space = parse_sweep(["model.C=interval(0.1,1)", "seed=1,2", "model.C=0.5", "seed=3"])
    assert space.dimensions == ()
    assert space.fixed == ("model.C=0.5", "seed=3")


def test_preflight_composes_each_choice_and_range_end_not_the_product() -> None:
    overrides = ["hydra/sweeper=optuna", "model=logistic_regression", "dataset=iris,wine,digits",
                 "model.max_iter=range(20,30)", "model.C=tag(log,interval(1e-3,10))"]
    assert preflight_sweep(overrides) == 1 + 2 + 1 + 1
    assert preflight_sweep(overrides[1:4]) == 3 * 10  # the basic sweeper's grid: every job


@pytest.mark.slow
def test_sweep_runs_one_job_per_trial_and_writes_the_results(cli, tmp_path: Path) -> None:
    done = cli(*OPTUNA, "model=logistic_regression", "dataset=iris,wine",
               "model.max_iter=int(range(20,200))", "hydra.sweeper.n_trials=3",
               "hydra.sweeper.n_jobs=2", "hydra.sweeper.study_name=lr",
               "hydra.sweeper.params={model.C:'tag(log,interval(0.01,10))'}")
    assert done.returncode == 0, done.stderr
    study = load_study(tmp_path, "lr")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert all(20 <= t.params["model.max_iter"] <= 199 for t in study.trials)
    assert all(0.01 <= t.params["model.C"] <= 10 for t in study.trials)
    assert {t.params["dataset"] for t in study.trials} <= {"iris", "wine"}
    (sweep_dir,) = (tmp_path / "multiruns").iterdir()
    assert sorted(p.name for p in sweep_dir.iterdir() if p.is_dir()) == ["0", "1", "2"]
    results = yaml.safe_load((sweep_dir / "optuna_results.yaml").read_text())
    assert results["study_name"] == "lr"
    assert results["storage"] == str(tmp_path / "studies" / "lr.journal")
    assert results["best_trial"]["value"] == study.best_value
    assert results["best_trial"]["params"] == study.best_params
    assert f"best trial {study.best_trial.number} of study 'lr'" in done.stdout
    rows = list(csv.DictReader((sweep_dir / "leaderboard.csv").open()))
    assert [r["status"] for r in rows] == ["ok"] * 3


def test_a_named_study_resumes_up_to_n_trials_in_total(in_process_cli, tmp_path: Path) -> None:
    cli = in_process_cli
    for n_trials in (2, 3, 3):
        done = cli(*OPTUNA, *KNN, f"hydra.sweeper.n_trials={n_trials}",
                   "hydra.sweeper.study_name=knn")
        assert done.returncode == 0, done.stderr
    assert len(load_study(tmp_path, "knn").trials) == 3
    jobs = [len([p for p in d.iterdir() if p.is_dir()]) for d in sweep_dirs(tmp_path)]
    assert jobs == [2, 1, 0]


def test_no_trial_starts_after_the_timeout(in_process_cli, tmp_path: Path) -> None:
    cli = in_process_cli
    done = cli(*OPTUNA, *KNN, "hydra.sweeper.n_trials=50", "hydra.sweeper.timeout=1",
               "hydra.sweeper.study_name=knn")
    assert done.returncode == 0, done.stderr
    assert 1 <= len(load_study(tmp_path, "knn").trials) < 50


def test_a_failing_job_is_a_failed_trial_and_the_sweep_goes_on(in_process_cli,
                                                               tmp_path: Path) -> None:
    cli = in_process_cli
    # 100 neighbours cannot be asked of 80 training rows: only the fit finds out.
    done = cli(*OPTUNA, "model=knn", "model.n_neighbors=5,100", "hydra.sweeper.n_trials=4",
               "hydra.sweeper.method=random", "hydra.sweeper.seed=0",
               "hydra.sweeper.study_name=knn")
    assert done.returncode == 1  # the leaderboard's verdict: some job failed
    trials = load_study(tmp_path, "knn").trials
    assert len(trials) == 4
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert {t.params["model.n_neighbors"] for t in failed} == {100}
    assert {t.params["model.n_neighbors"] for t in complete} == {5}
    assert "Expected n_neighbors <= n_samples_fit" in failed[0].user_attrs["error"]
    (sweep_dir,) = sweep_dirs(tmp_path)
    rows = list(csv.DictReader((sweep_dir / "leaderboard.csv").open()))
    assert sorted(r["status"] for r in rows) == ["failed"] * len(failed) + ["ok"] * len(complete)
    results = yaml.safe_load((sweep_dir / "optuna_results.yaml").read_text())
    assert results["trials"] == {"finished": 4, "complete": len(complete), "failed": len(failed)}


@pytest.mark.slow
def test_the_same_seed_samples_the_same_trials(in_process_cli, tmp_path: Path) -> None:
    cli = in_process_cli
    runs = []
    for name in ("first", "second"):
        done = cli(*OPTUNA, *KNN, "hydra.sweeper.n_trials=4", "hydra.sweeper.seed=7",
                   "+hydra.sweeper.sampler_options.n_startup_trials=2",
                   f"hydra.sweeper.study_name={name}")
        assert done.returncode == 0, done.stderr
        runs.append([t.params for t in load_study(tmp_path, name).trials])
    assert runs[0] == runs[1]
    assert len({tuple(p.items()) for p in runs[0]}) > 1


@pytest.mark.parametrize(("override", "message"), [
    ("model.n_neighbors=tag(log,int(interval(0,30)))",
     r"override 'model.n_neighbors=tag\(log,int\(interval\(0,30\)\)\)': a log scale needs a"),
    ("model.n_neighbors=range(30,1)", r"range\(30, 1, 1\) holds no value"),
    ("model.weights=uniform,distanse", "model.weights: The 'weights' parameter of"),
    ("hydra.sweeper.direction=max",
     r"hydra.sweeper.direction: unknown direction 'max'\. Valid options: maximize, minimize"),
    ("hydra.sweeper.method=tpee", "hydra.sweeper.method: .* Did you mean 'tpe'?"),
])
def test_a_bad_sweep_exits_2_before_any_trial(in_process_cli, tmp_path: Path, override: str,
                                              message: str) -> None:
    done = in_process_cli(*OPTUNA, "model=knn", "model.p=1,2", override)
    assert done.returncode == 2
    assert done.stderr.count("error:") == 1
    assert re.search(message, done.stderr), done.stderr
    assert not any((tmp_path / "multiruns").glob("*/0"))


def load_study(output_dir: Path, name: str) -> optuna.Study:
    """The study a CLI sweep wrote into ``output_dir``'s default journal."""
    storage = open_storage(None, name, output_dir / "studies")
    return optuna.load_study(study_name=name, storage=storage)


def sweep_dirs(output_dir: Path) -> list[Path]:
    return sorted((output_dir / "multiruns").iterdir())
