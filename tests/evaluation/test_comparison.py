"""Comparing two runs: the paired tests on known inputs, and `engine compare` end to end."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from engine.errors import DataError
from engine.evaluation.paired_tests import (
    corrected_resampled_t_test,
    mcnemar_test,
    paired_bootstrap,
)
from engine.evaluation.run_comparison import compare_runs

# Five folds for the t-test; no report, intervals or importances, which a comparison never reads.
FAST = ("split.cv.n_splits=5", "report=false", "metrics.bootstrap.resamples=0",
        "metrics.explain.importance_repeats=0")


def test_corrected_t_test_is_wider_than_the_naive_one_and_finds_a_real_gap() -> None:
    rng = np.random.default_rng(0)
    second = rng.normal(0.80, 0.02, 10)
    first = second + 0.03 + rng.normal(0, 0.01, 10)
    result = corrected_resampled_t_test(first, second, test_to_train=1 / 9)
    naive = stats.ttest_rel(first, second).pvalue
    assert result.p_value < 0.01
    assert result.p_value > naive  # the overlap correction only ever widens
    assert result.low < result.difference < result.high
    differences = first - second
    corrected_se = np.sqrt((1 / 10 + 1 / 9) * differences.var(ddof=1))
    assert result.difference / corrected_se == pytest.approx(
        float(result.detail.split("t = ")[1].split(",")[0]), abs=0.005)


def test_no_gap_is_not_significant() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(0.8, 0.02, 10)
    assert corrected_resampled_t_test(scores, scores, 1 / 9).p_value == 1.0
    same = rng.normal(0.8, 0.02, (2, 2000))
    assert paired_bootstrap(same[0], same[1], 0.0).p_value > 0.5


def test_mcnemar_exact_p_value() -> None:
    first = np.array([True] * 10 + [True] * 50 + [False] * 5)
    second = np.array([False] * 10 + [True] * 50 + [False] * 5)
    result = mcnemar_test(first, second)
    assert result.p_value == pytest.approx(2 * 0.5**10)
    assert "only the first right on 10 rows, only the second on 0" in result.detail


def test_a_real_difference_is_found_and_a_small_one_is_not(run) -> None:
    dummy = run("model=dummy", *FAST)
    gbm = run("model=hist_gbm", *FAST)
    logistic = run("model=logistic_regression", *FAST)
    found = compare_runs(gbm.run_dir, dummy.run_dir)
    assert found.metric == "roc_auc"
    assert found.verdict.startswith("the first run is better on roc_auc in CV")
    assert [result.test for result, _, _ in found.results] == [
        "corrected resampled t", "paired bootstrap", "McNemar (exact)"]
    assert all(result.p_value < 0.05 for result, _, _ in found.results)
    close = compare_runs(logistic.run_dir, gbm.run_dir)
    assert close.verdict.startswith("the difference in roc_auc in CV is not significant")
    accuracy = compare_runs(logistic.run_dir, gbm.run_dir, metric="accuracy")
    _, first_value, second_value = accuracy.results[1]
    assert first_value == logistic.metrics["test"]["accuracy"]
    assert second_value == gbm.metrics["test"]["accuracy"]


def test_regression_runs_compare_without_mcnemar(run) -> None:
    ridge = run("dataset=diabetes", "model=ridge", *FAST)
    forest = run("dataset=diabetes", "model=random_forest", "model.n_estimators=30", *FAST)
    comparison = compare_runs(ridge.run_dir, forest.run_dir)
    assert [result.test for result, _, _ in comparison.results] == [
        "corrected resampled t", "paired bootstrap"]


def test_runs_that_do_not_share_data_or_splits_are_refused(run) -> None:
    base = run("model=dummy", *FAST)
    with pytest.raises(DataError, match=r"cannot be compared: their splits differ"):
        compare_runs(base.run_dir, run("model=dummy", *FAST, "seed=7").run_dir)
    with pytest.raises(DataError, match=r"cannot be compared: they were trained on different"):
        compare_runs(base.run_dir, run("model=dummy", "dataset=wine", *FAST).run_dir)
    with pytest.raises(DataError, match=r"has no 'roc_acu'\. Did you mean 'roc_auc'\?"):
        compare_runs(base.run_dir, base.run_dir, metric="roc_acu")


def test_compare_on_the_command_line(in_process_cli, tmp_path) -> None:
    cli = in_process_cli
    for model in ("dummy", "hist_gbm"):
        assert cli(f"model={model}", *FAST).returncode == 0
    first, second = sorted((tmp_path / "runs").iterdir())
    done = cli("compare", str(second), str(first))
    assert done.returncode == 0, done.stderr
    assert "verdict: the first run is better on roc_auc in CV" in done.stdout
    missing = cli("compare", str(first), str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert "is not a finished run directory" in missing.stderr
    bad_alpha = cli("compare", str(first), str(second), "--alpha", "5")
    assert bad_alpha.returncode == 2
    assert "compare: --alpha must be between 0 and 1" in bad_alpha.stderr
