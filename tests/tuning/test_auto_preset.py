"""``tune=auto``: the families kept for the task and the table, the workers and the trial count
it sets, a real search reproduced by its seed, and a preset that fits no family (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from engine.config.compose import compose_spec
from engine.data.dataset import Dataset
from engine.errors import ConfigError
from engine.experiment import run_experiment
from engine.threads import available_cores
from engine.tuning.auto_preset import DEFAULT_TRIALS, LARGE_ROWS, adapt_search
from tests.conftest import REPO, run_cli


def table(rows: int, task: str) -> Dataset:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=rows)})
    y = pd.Series(rng.integers(0, 2, rows) if task != "regression" else rng.normal(size=rows))
    return Dataset("generated", X, y, task)


@pytest.mark.parametrize(("task", "rows", "budget", "kept"), [
    ("binary", 500, "60", ["lightgbm", "xgboost", "extra_trees", "logistic_regression"]),
    ("regression", 500, "60", ["lightgbm", "xgboost", "extra_trees", "ridge"]),
    ("multiclass", LARGE_ROWS + 1, "60", ["lightgbm", "xgboost", "logistic_regression"]),
    ("binary", 500, "600", ["lightgbm", "xgboost", "extra_trees", "logistic_regression", "mlp"]),
])
def test_the_families_kept_suit_the_task_the_rows_and_the_budget(
        task: str, rows: int, budget: str, kept: list[str]) -> None:
    spec = compose_spec(["tune=auto", f"budget={budget}"])
    chosen = adapt_search(spec, table(rows, task))
    assert list(chosen.spec.candidates) == kept
    assert chosen.spec.tune.models == kept
    assert chosen.spec.tune.n_jobs == available_cores()  # a wall limit: a worker per core
    assert chosen.spec.tune.n_trials is None  # the budget bounds the search
    for name in set(spec.candidates) - set(kept):
        assert f"{name} (" in chosen.line  # each family left out, with its reason


def test_without_a_wall_limit_one_worker_runs_a_fixed_count_of_trials() -> None:
    chosen = adapt_search(compose_spec(["tune=auto"]), table(500, "binary"))
    assert chosen.spec.tune.n_trials == DEFAULT_TRIALS and chosen.spec.tune.n_jobs == 1
    given = adapt_search(compose_spec(["tune=auto", "tune.n_trials=7", "tune.n_jobs=3"]),
                         table(500, "binary"))
    assert given.spec.tune.n_trials == 7 and given.spec.tune.n_jobs == 3


def test_a_preset_whose_families_fit_no_task_is_refused_by_name() -> None:
    spec = compose_spec(["tune=auto", "tune.models=[ridge,linear]"])
    with pytest.raises(ConfigError, match=r"tune.models: none of .* fits a binary task"):
        adapt_search(spec, table(500, "binary"))


def trials(run_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(run_dir / "tuning" / "trials.csv")
    return frame.drop(columns=["duration_s", "worker"])


@pytest.mark.slow
def test_the_same_seed_gives_the_same_trials_and_the_first_are_the_defaults(
        tmp_path: Path) -> None:
    overrides = ["dataset=wine", "tune=auto", "tune.n_trials=8", "report=false",
                 "metrics.bootstrap.resamples=0", "metrics.explain.importance_repeats=0",
                 "tune.plots=false", f"tune.studies_dir={tmp_path / 'studies'}"]
    runs = []
    for number in range(2):
        run_dir = tmp_path / f"run{number}"
        run_dir.mkdir()
        run_experiment(compose_spec(overrides), run_dir, project_dir=REPO,
                       console=Console(quiet=True))
        runs.append(run_dir)
    pd.testing.assert_frame_equal(trials(runs[0]), trials(runs[1]))
    first = pd.read_csv(runs[0] / "tuning" / "trials.csv")["param_model"].head(4)
    assert list(first) == ["lightgbm", "xgboost", "extra_trees", "logistic_regression"]
    tuning = json.loads((runs[0] / "metrics.json").read_text())["tuning"]
    assert tuning["trials"]["COMPLETE"] + tuning["trials"].get("PRUNED", 0) == 8
    assert "ensemble" in tuning


@pytest.mark.slow
def test_a_budgeted_auto_run_says_what_it_chose(tmp_path: Path) -> None:
    done = run_cli(["tune=auto", "budget=20", "report=false"], tmp_path)
    output = done.stdout
    assert done.returncode == 0, done.stderr
    assert "tune=auto: lightgbm, xgboost, extra_trees, logistic_regression searched by" in output
    assert "ridge (no classification estimator)" in output
    assert "budget 20 s:" in output
