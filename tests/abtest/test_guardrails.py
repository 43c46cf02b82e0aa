"""The guardrails: sample-ratio mismatch, latency p99 per request, error rate, a shadow's
coverage and changed predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.abtest.guardrails import (
    assignment_units,
    error_rates,
    latency_p99,
    sample_ratio_mismatch,
    shadow_agreement,
)
from engine.monitoring.columns import LATENCY_MS, PREDICTION, REQUEST_ID, ROW, VARIANT
from tests.abtest.experiment_logs import experiment_frame

SPLIT = {"control": 0.9, "challenger": 0.1}


def test_counts_that_follow_the_split_pass_and_a_mismatch_is_flagged() -> None:
    assert not sample_ratio_mismatch("rows", {"control": 9040, "challenger": 960}, SPLIT).mismatch
    found = sample_ratio_mismatch("rows", {"control": 8800, "challenger": 1200}, SPLIT)
    assert found.mismatch and found.p_value < 1e-6
    assert found.expected == {"control": 9000.0, "challenger": 1000.0}


def test_requests_assigned_as_a_whole_are_counted_once() -> None:
    frame = experiment_frame(1000, accuracy={"control": 0.8, "challenger": 0.8}, split=SPLIT,
                             rows_per_request=5, shadow="candidate")
    unit, counts = assignment_units(frame)
    assert unit == "requests" and sum(counts.values()) == 1000


def test_rows_split_within_a_request_are_counted_as_rows() -> None:
    frame = pd.DataFrame({REQUEST_ID: ["a", "a", "b", "b"], ROW: [0, 1, 0, 1],
                          VARIANT: ["control", "challenger", "control", "control"]})
    assert assignment_units(frame) == ("rows", {"challenger": 1, "control": 3})


def test_latency_p99_takes_one_value_per_request() -> None:
    """One slow request of 100 rows among 99 fast single-row ones: per row the p99 would be
    the slow one's; per request it is near the fast ones'."""
    ids = ["slow"] * 100 + [f"fast{i}" for i in range(99)]
    frame = pd.DataFrame({REQUEST_ID: ids, VARIANT: "control",
                          LATENCY_MS: [500.0] * 100 + list(np.linspace(1, 10, 99))})
    assert latency_p99(frame)["control"] == pytest.approx(
        np.quantile([500.0, *np.linspace(1, 10, 99)], 0.99))
    assert latency_p99(frame.drop(columns=LATENCY_MS)) == {}


def test_the_error_rate_is_the_share_of_rows_without_a_prediction() -> None:
    frame = pd.DataFrame({VARIANT: ["control"] * 4 + ["shadow:new"] * 4,
                          PREDICTION: [1, 0, 1, 1, 1, None, None, 0]})
    assert error_rates(frame) == {"control": 0.0, "shadow:new": 0.5}


def test_a_shadow_is_matched_to_the_live_answer_of_the_same_row() -> None:
    live = pd.DataFrame({REQUEST_ID: ["a", "a", "b", "c"], ROW: [0, 1, 0, 0],
                         VARIANT: ["control", "control", "challenger", "control"],
                         PREDICTION: ["yes", "no", "yes", "no"]})
    shadow = pd.DataFrame({REQUEST_ID: ["a", "a", "b"], ROW: [0, 1, 0],
                           VARIANT: "shadow:new", PREDICTION: ["yes", "yes", "no"]})
    found = shadow_agreement(pd.concat([live, shadow], ignore_index=True))["shadow:new"]
    assert (found.rows, found.coverage, found.changed) == (3, 0.75, pytest.approx(2 / 3))
