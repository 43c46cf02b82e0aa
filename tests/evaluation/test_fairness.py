"""Fairness by group: fairlearn's numbers on a hand-made table, verdicts and a failing run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
    selection_rate,
)

from engine.config.schema.metrics import FairnessConfig
from engine.evaluation.fairness import failed_measures, fairness_record
from tests.conftest import FAST, only_run_dir

# Ten people: five women, five men. Women: 2 of 5 selected; men: 4 of 5 selected.
TABLE = pd.DataFrame({
    "sex": ["F"] * 5 + ["M"] * 5,
    "y": [1, 1, 0, 0, 0, 1, 1, 1, 0, 0],
    "predicted": [1, 0, 1, 0, 0, 1, 1, 1, 1, 0],
})
LIMITS = {"demographic_parity_difference": {"warn": 0.1, "fail": 0.3},
          "equalized_odds_difference": {"warn": 0.6, "fail": None},
          "demographic_parity_ratio": {"warn": 0.8, "fail": None}}


def record() -> dict:
    settings = FairnessConfig.model_validate({"sensitive": "sex", "limits": LIMITS})
    return fairness_record(TABLE[["sex"]], TABLE["y"].to_numpy(), TABLE["predicted"].to_numpy(),
                           "binary", settings, bins=4)


def test_fairness_numbers_equal_fairlearns_and_the_hand_computed_ones() -> None:
    (grouping,) = record()["groupings"]
    y, predicted, sex = TABLE["y"], TABLE["predicted"], TABLE["sex"]
    measures = grouping["measures"]
    # Selection rates 2/5 (F) and 4/5 (M): a difference of 0.4 and a ratio of 0.5.
    assert measures["demographic_parity_difference"]["value"] == pytest.approx(0.4)
    assert measures["demographic_parity_ratio"]["value"] == pytest.approx(0.5)
    assert measures["demographic_parity_difference"]["value"] == pytest.approx(
        demographic_parity_difference(y, predicted, sensitive_features=sex))
    # TPR: F 1/2, M 3/3; FPR: F 1/3, M 1/2 -> equalized odds difference max(0.5, 1/6) = 0.5.
    assert measures["equalized_odds_difference"]["value"] == pytest.approx(0.5)
    assert measures["equalized_odds_difference"]["value"] == pytest.approx(
        equalized_odds_difference(y, predicted, sensitive_features=sex))
    by_group = {row["group"]: row for row in grouping["by_group"]}
    reference = MetricFrame(metrics={"selection_rate": selection_rate}, y_true=y,
                            y_pred=predicted, sensitive_features=sex).by_group
    assert by_group["F"]["selection_rate"] == pytest.approx(reference.loc["F", "selection_rate"])
    assert (by_group["F"]["count"], by_group["M"]["count"]) == (5, 5)
    assert by_group["F"]["true_positive_rate"] == pytest.approx(0.5)
    assert by_group["M"]["false_positive_rate"] == pytest.approx(0.5)


def test_differences_above_and_ratios_below_their_limits_are_flagged() -> None:
    measures = record()["groupings"][0]["measures"]
    assert measures["demographic_parity_difference"]["verdict"] == "fail"  # 0.4 > 0.3
    assert measures["equalized_odds_difference"]["verdict"] == "ok"  # 0.5 <= 0.6
    assert measures["demographic_parity_ratio"]["verdict"] == "warn"  # 0.5 < 0.8
    assert measures["equalized_odds_ratio"]["verdict"] == "ok"  # no limit declared
    assert failed_measures(record(), "fail") == [
        "sex: demographic_parity_difference = 0.400 (above 0.3)"]


def test_several_sensitive_columns_are_also_crossed() -> None:
    frame = TABLE.assign(age=np.arange(20, 70, 5))
    crossed = fairness_record(frame, TABLE["y"].to_numpy(), TABLE["predicted"].to_numpy(),
                              "binary", FairnessConfig(sensitive=["sex", "age"], limits={}), bins=2)
    names = [grouping["name"] for grouping in crossed["groupings"]]
    assert names == ["sex", "age", "sex & age"]
    assert sum(row["count"] for row in crossed["groupings"][2]["by_group"]) == 10


def test_a_run_over_a_fail_limit_writes_everything_then_exits_2(in_process_cli, tmp_path) -> None:
    done = in_process_cli(*FAST, "metrics.fairness.sensitive=[mean radius]",
                          "metrics.fairness.limits.demographic_parity_difference.fail=0.01",
                          "metrics.bootstrap.resamples=0", "metrics.explain.importance_repeats=0")
    assert done.returncode == 2
    assert "demographic_parity_difference" in done.stderr and "Traceback" not in done.stderr
    run_dir = only_run_dir(tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "failed" and "mean radius" in run["error"]
    assert (run_dir / "report.html").is_file() and (run_dir / "model").is_dir()
    fairness = json.loads((run_dir / "evaluation.json").read_text())["fairness"]
    assert fairness["groupings"][0]["measures"]["demographic_parity_difference"]["value"] > 0.01
