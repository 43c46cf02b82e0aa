"""The analysis of a logged experiment: the metric per variant, the test, the verdicts."""

from __future__ import annotations

import json

import pytest

from engine.abtest.analysis import ADOPT, KEEP_RUNNING, REJECT, Settings, analyse
from engine.errors import ConfigError, DataError
from engine.monitoring.columns import PREDICTION, VARIANT
from tests.abtest.experiment_logs import experiment_frame

HALVES = {"control": 0.5, "challenger": 0.5}


def test_a_better_challenger_is_adopted() -> None:
    frame = experiment_frame(4000, accuracy={"control": 0.80, "challenger": 0.86}, split=HALVES)
    found = analyse(frame, Settings(split=(50, 50)))
    assert found.verdict == ADOPT and found.reason.startswith("adopt challenger")
    control, challenger = found.variants
    assert control.rows + challenger.rows == 8000
    assert challenger.metric is not None and control.metric is not None
    (comparison,) = found.comparisons
    assert comparison.test.difference == pytest.approx(challenger.metric - control.metric)
    assert 0 < comparison.test.low < 0.06 < comparison.test.high
    assert found.sample_ratio is not None and not found.sample_ratio.mismatch


def test_a_worse_challenger_is_rejected() -> None:
    frame = experiment_frame(4000, accuracy={"control": 0.80, "challenger": 0.74}, split=HALVES)
    found = analyse(frame, Settings())
    assert found.verdict == REJECT and "challenger is worse than control" in found.reason


def test_an_experiment_without_a_proven_difference_keeps_running() -> None:
    frame = experiment_frame(1000, accuracy={"control": 0.80, "challenger": 0.80}, split=HALVES)
    found = analyse(frame, Settings())
    assert found.verdict == KEEP_RUNNING and "no difference proven yet" in found.reason


def test_a_slower_challenger_is_rejected_whatever_its_accuracy() -> None:
    frame = experiment_frame(4000, accuracy={"control": 0.80, "challenger": 0.86}, split=HALVES,
                             latency_ms={"control": 10.0, "challenger": 30.0})
    found = analyse(frame, Settings())
    assert found.verdict == REJECT and "latency p99" in found.comparisons[0].breaches[0]


def test_counts_off_the_declared_split_stop_the_experiment() -> None:
    frame = experiment_frame(4000, accuracy={"control": 0.80, "challenger": 0.86},
                             split={"control": 0.8, "challenger": 0.2})
    found = analyse(frame, Settings(split=(90, 10)))
    assert found.sample_ratio is not None and found.sample_ratio.mismatch
    assert found.sample_ratio.unit == "requests"
    assert found.verdict == REJECT and "sample ratio mismatch" in found.reason


def test_the_outcome_fed_back_is_judged_with_outcome() -> None:
    frame = experiment_frame(6000, accuracy={"control": 0.8, "challenger": 0.8}, split=HALVES,
                             outcome={"control": 0.10, "challenger": 0.15}, shadow="candidate")
    found = analyse(frame, Settings(metric="outcome"))
    assert found.verdict == ADOPT
    assert found.variants[1].metric == pytest.approx(0.15, abs=0.015)
    shadow = found.variants[2]
    assert (shadow.name, shadow.measured, shadow.metric) == ("shadow:candidate", 0, None)


def test_the_result_is_json_without_infinities() -> None:
    frame = experiment_frame(80, accuracy={"control": 0.8, "challenger": 0.8}, split=HALVES,
                             shadow="candidate")
    record = json.loads(json.dumps(analyse(frame, Settings()).to_json(), allow_nan=False))
    assert record["verdict"] == KEEP_RUNNING
    assert "the test starts at 100 rows with an outcome per variant" in record["reason"]
    assert record["comparisons"][0]["test"]["high"] is None
    assert record["shadows"]["shadow:candidate"]["coverage"] == 1.0


@pytest.mark.parametrize(("settings", "message"), [
    (Settings(control="contorl"),
     r"^abtest --control 'contorl': no live variant of that name in the log\. Did you mean "
     r"'control'\? Valid options: challenger, control\.$"),
    (Settings(split=(80, 10, 10)),
     r"^abtest --split 80/10/10: 3 shares for 2 live variants \(control, challenger\); give "),
])
def test_a_wrong_variant_or_split_is_one_line(settings: Settings, message: str) -> None:
    frame = experiment_frame(200, accuracy={"control": 0.8, "challenger": 0.8}, split=HALVES)
    with pytest.raises(ConfigError, match=message):
        analyse(frame, settings)


def test_without_a_variant_named_control_the_control_must_be_named() -> None:
    frame = experiment_frame(200, accuracy={"champion": 0.8, "new": 0.8},
                             split={"champion": 0.5, "new": 0.5})
    with pytest.raises(ConfigError, match=r"name the control with --control\. Valid options: "
                                          r"champion, new\.$"):
        analyse(frame, Settings())
    assert analyse(frame, Settings(control="champion")).comparisons[0].challenger == "new"


def test_one_live_variant_has_nothing_to_compare() -> None:
    frame = experiment_frame(200, accuracy={"control": 0.8}, split={"control": 1.0})
    with pytest.raises(DataError, match=r"one live variant \('control'\), nothing to compare"):
        analyse(frame, Settings())


def test_outcome_without_outcomes_fed_back_says_how_to_send_them() -> None:
    frame = experiment_frame(200, accuracy={"control": 0.8, "challenger": 0.8}, split=HALVES)
    with pytest.raises(DataError, match=r"no '_outcome' column.*POST /feedback with an outcome"):
        analyse(frame, Settings(metric="outcome"))


def test_each_of_several_challengers_is_tested_at_alpha_over_their_number() -> None:
    frame = experiment_frame(6000, accuracy={"control": 0.80, "a": 0.80, "b": 0.86},
                             split={"control": 0.6, "a": 0.2, "b": 0.2})
    found = analyse(frame, Settings(split=(60, 20, 20)))
    assert [c.challenger for c in found.comparisons] == ["a", "b"]
    assert found.comparisons[1].reason.endswith("< 0.025")
    assert found.verdict == ADOPT and found.reason.startswith("adopt b:")
    assert found.sample_ratio is not None
    assert list(found.sample_ratio.expected) == ["control", "a", "b"]


def test_a_challenger_failing_rows_is_rejected() -> None:
    frame = experiment_frame(2000, accuracy={"control": 0.8, "challenger": 0.8}, split=HALVES)
    failed = (frame[VARIANT] == "challenger") & (frame.index % 20 == 0)
    frame[PREDICTION] = frame[PREDICTION].astype(float).where(~failed)
    (comparison,) = analyse(frame, Settings()).comparisons
    assert comparison.verdict == REJECT
    assert comparison.breaches[0].startswith("error rate 5.")


def test_latency_is_not_judged_on_fewer_than_a_hundred_requests() -> None:
    frame = experiment_frame(150, accuracy={"control": 0.8, "challenger": 0.8}, split=HALVES,
                             latency_ms={"control": 10.0, "challenger": 40.0})
    found = analyse(frame, Settings())
    assert found.variants[1].latency_p99 is not None
    assert found.comparisons[0].breaches == ()
