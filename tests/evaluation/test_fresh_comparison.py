"""Two models trained by the engine, scored on the same fresh labelled rows read from files:
the gate's comparison, its latency and fairness checks, and ``compare A B --on ROWS``."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from sklearn.metrics import roc_auc_score, root_mean_squared_error

from engine.config.compose import compose_spec
from engine.deploy.batch_predict import predict_rows
from engine.deploy.bundle import load_bundle
from engine.errors import ConfigError, DataError
from engine.evaluation.fresh_comparison import (
    check_gate_metric,
    fairness_failures,
    score_side_by_side,
)
from engine.evaluation.latency import interleaved_latency
from engine.experiment import run_experiment
from tests.conftest import REPO
from tests.deploy.conftest import mixed_frame

FAST = ("split.cv.n_splits=3", "report=false", "metrics.bootstrap.resamples=0",
        "metrics.explain.importance_repeats=0")
FAIR_CITY = ("metrics.fairness.sensitive=[city]",
             "metrics.fairness.limits={demographic_parity_difference: {fail: 0.6}}")


def regression_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(0, 1, rows), rng.uniform(0, 5, rows)
    return pd.DataFrame({"x1": x1.round(3), "x2": x2.round(3),
                         "price": (3 * x1 - 2 * x2 + rng.normal(0, 0.5, rows)).round(3)})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Runs of the engine on CSV files (mixed rows labelled yes/no; numbers with a price), and
    fresh rows of the same kind that no run trained on."""
    tmp = tmp_path_factory.mktemp("fresh")
    files = {"first": (mixed_frame, 0), "other": (mixed_frame, 2), "prices": (regression_frame, 0),
             "fresh": (mixed_frame, 1), "fresh_prices": (regression_frame, 1)}
    for name, (make, seed) in files.items():
        make(300 if name.startswith("fresh") else 400, seed).to_csv(tmp / f"{name}.csv",
                                                                    index=False)

    def train(name: str, data: str, *overrides: str) -> Path:
        target = ("dataset.target=price", "dataset.drop=[]") if data == "prices" else (
            "dataset.target=label", "dataset.drop=[id]")
        spec = compose_spec(["dataset=titanic", f"dataset.path={tmp / data}.csv", *target,
                             *FAST, *overrides])
        (tmp / name).mkdir()
        run_experiment(spec, tmp / name, project_dir=REPO, console=Console(quiet=True))
        return tmp / name

    return SimpleNamespace(
        strong=train("strong", "first", "model=logistic_regression", *FAIR_CITY),
        weak=train("weak", "first", "model=dummy"),
        other=train("other", "other", "model=logistic_regression"),
        ridge=train("ridge", "prices", "model=ridge"),
        mean=train("mean", "prices", "model=dummy"),
        rows=tmp / "fresh.csv", fresh=pd.read_csv(tmp / "fresh.csv"),
        prices=pd.read_csv(tmp / "fresh_prices.csv"), tmp=tmp)


def test_a_strong_model_beats_a_crippled_one_and_not_the_reverse(runs) -> None:
    strong, weak, fresh = load_bundle(runs.strong), load_bundle(runs.weak), runs.fresh
    gain = score_side_by_side(weak, strong, fresh, fresh["label"])
    assert gain.metric == "roc_auc" and gain.rows == 300
    assert gain.second == pytest.approx(roc_auc_score(
        fresh["label"] == "yes", predict_rows(strong, fresh)[0]["proba_yes"]))
    assert gain.first == 0.5  # the prior's one score for every row
    assert gain.better and gain.p_value < 0.01
    assert gain.difference == pytest.approx(gain.second - gain.first)
    assert 0 < gain.interval[0] <= gain.difference <= gain.interval[1]
    assert [test.test for test in gain.tests] == ["paired bootstrap", "McNemar (exact)"]
    assert gain.tests[1].p_value < 0.01
    assert gain.verdict == f"B is better than A by {gain.difference:.3g} (p = {gain.p_value:.3g})"
    loss = score_side_by_side(strong, weak, fresh, fresh["label"])
    assert not loss.better and loss.p_value > 0.5 and loss.difference == -gain.difference
    assert loss.verdict.startswith("B is worse than A by 0.5")
    same = score_side_by_side(strong, strong, fresh, fresh["label"])
    assert (same.better, same.difference, same.p_value) == (False, 0.0, 1.0)
    assert same.verdict == "no significant difference (B - A = +0, p = 1)"


def test_the_margin_is_respected(runs) -> None:
    strong, weak, fresh = load_bundle(runs.strong), load_bundle(runs.weak), runs.fresh
    plain = score_side_by_side(weak, strong, fresh, fresh["label"], metric="accuracy")
    assert plain.better and plain.interval[0] > 0.1
    assert score_side_by_side(weak, strong, fresh, fresh["label"], metric="accuracy",
                              margin=0.1).better
    beyond = score_side_by_side(weak, strong, fresh, fresh["label"], metric="accuracy",
                                margin=plain.difference + 0.01)
    assert not beyond.better and beyond.p_value > 0.5
    assert beyond.verdict.startswith(f"B is not better than A by more than "
                                     f"{plain.difference + 0.01:g}")


def test_a_loss_is_oriented_so_that_a_positive_difference_means_b_is_better(runs) -> None:
    ridge, mean, rows = load_bundle(runs.ridge), load_bundle(runs.mean), runs.prices
    gain = score_side_by_side(mean, ridge, rows, rows["price"])
    assert gain.metric == "neg_root_mean_squared_error"
    assert gain.second == pytest.approx(-root_mean_squared_error(
        rows["price"], predict_rows(ridge, rows)[0]["prediction"]))
    assert gain.first < gain.second < 0 and gain.difference > 0 and gain.better
    assert [test.test for test in gain.tests] == ["paired bootstrap"]
    assert not score_side_by_side(ridge, mean, rows, rows["price"]).better
    with pytest.raises(ConfigError, match=r"compare --metric: 'rmse' cannot score a regression "
                                          r"task\. "
                                          r"Did you mean 'neg_root_mean_squared_error'\?"):
        score_side_by_side(mean, ridge, rows, rows["price"], metric="rmse")


def test_a_metric_the_task_cannot_score_is_named_with_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"^lifecycle.gate.metric: 'neg_mean_squared_error' "
                                          r"cannot score a binary task\. Scorers for binary: "
                                          r"roc_auc, accuracy, "):
        check_gate_metric("neg_mean_squared_error", "binary", key="lifecycle.gate.metric")
    with pytest.raises(ConfigError, match=r"'roc_auc' cannot score a multiclass task\. Did you "
                                          r"mean 'roc_auc_ovr'\?"):
        check_gate_metric("roc_auc", "multiclass")
    check_gate_metric("neg_log_loss", "multiclass")


def test_rows_and_models_that_cannot_be_compared_are_refused(runs) -> None:
    strong, ridge, fresh = load_bundle(runs.strong), load_bundle(runs.ridge), runs.fresh
    with pytest.raises(DataError, match=r"the rows lack column\(s\) 'city' that model A"):
        score_side_by_side(strong, strong, fresh.drop(columns="city"), fresh["label"])
    with pytest.raises(DataError, match=r"model A \(.*\) predicts binary \[no, yes\] and model "
                                        r"B \(.*\) regression; compare models of the same task"):
        score_side_by_side(strong, ridge, fresh, fresh["label"])
    with pytest.raises(DataError, match=r"target 'label' holds 'maybe', which the models never "
                                        r"learned; their classes: no, yes"):
        score_side_by_side(strong, strong, fresh, fresh["label"].replace("no", "maybe"))
    yes = fresh[fresh["label"] == "yes"]
    with pytest.raises(DataError, match=rf"roc_auc is undefined on these {len(yes)} rows \(all "
                                        r"of one class\)"):
        score_side_by_side(strong, strong, yes, yes["label"])


def test_latency_is_timed_for_both_models(runs) -> None:
    latency = interleaved_latency(load_bundle(runs.strong), load_bundle(runs.weak),
                                  runs.fresh, repeats=3)
    assert latency.calls == 3 and latency.first_ms > 0 and latency.second_ms > 0
    assert latency.ratio == pytest.approx(latency.second_ms / latency.first_ms)


def test_fairness_limits_of_the_run_are_checked_on_the_rows(runs) -> None:
    strong, fresh = load_bundle(runs.strong), runs.fresh
    assert fairness_failures(strong, fresh, fresh["label"]) == []
    assert fairness_failures(load_bundle(runs.weak), fresh, fresh["label"]) == []  # none declared
    skewed = fresh.assign(member=fresh["city"] == "oslo", size=30.0)  # only oslo predicted yes
    assert fairness_failures(strong, skewed, skewed["label"]) == [
        "city: demographic_parity_difference = 1.000 (above 0.6)"]
    with pytest.raises(DataError, match=r"lack the sensitive column\(s\) 'city'"):
        fairness_failures(strong, fresh.drop(columns="city"), fresh["label"])


def test_compare_on_fresh_rows_on_the_command_line(runs, in_process_cli, tmp_path) -> None:
    cli, strong, other, weak = in_process_cli, str(runs.strong), str(runs.other), str(runs.weak)
    refused = cli("compare", other, strong)
    assert refused.returncode == 2 and "they were trained on different data" in refused.stderr
    done = cli("compare", other, strong, "--on", str(runs.rows))
    assert done.returncode == 0, done.stderr
    assert f"on 300 rows of {runs.rows}, target 'label'" in done.stdout
    assert "roc_auc" in done.stdout and "accuracy, McNemar" in done.stdout
    assert "verdict: " in done.stdout
    registry = tmp_path / "registry.db"
    assert cli("registry", "register", weak, "mixed",
               env={"ENGINE_REGISTRY": str(registry)}).returncode == 0
    parquet = tmp_path / "fresh.parquet"
    runs.fresh.to_parquet(parquet)
    gate = cli("compare", "mixed/1", strong, "--on", str(parquet), "--registry", str(registry),
               "--metric", "accuracy")
    assert gate.returncode == 0, gate.stderr
    assert f"A: mixed/1 (version 1 of the registry, {runs.weak}, dummy)" in gate.stdout
    assert "verdict: B is better than A by 0.24 (p = 0.0005)" in gate.stdout
    mistakes = {
        ("--on", str(runs.tmp / "missing.csv")): "file '",
        ("--on", str(runs.rows), "--target", "lable"): "has no column 'lable'. Did you mean "
                                                      "'label'?",
        ("--on", str(runs.rows), "--metric", "r2"): "compare --metric: 'r2' cannot score a binary "
                                                       "task",
        ("--on", str(runs.rows), "--alpha", "2"): "compare: --alpha must be between 0 and 1; "
                                                  "got 2.0.",
        ("--margin", "0.1"): "compare: --margin applies to models scored on fresh rows",
    }
    for extra, message in mistakes.items():
        wrong = cli("compare", weak, strong, *extra)
        assert (wrong.returncode, wrong.stderr.count("\n")) == (2, 1), wrong.stderr
        assert message in wrong.stderr
