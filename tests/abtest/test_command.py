"""``python -m engine abtest LOG``: over a prediction log written in the log's layout, its
table and JSON, and its one-line refusals (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.abtest.command import abtest
from engine.errors import ConfigError, DataError
from engine.monitoring.columns import VARIANT
from tests.abtest.experiment_logs import exit_status, experiment_frame, write_log

SPLIT = {"control": 0.9, "challenger": 0.1}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame = experiment_frame(6000, accuracy={"control": 0.80, "challenger": 0.86}, split=SPLIT,
                             shadow="candidate")
    return write_log(tmp_path_factory.mktemp("abtest") / "log", frame)


def test_the_table_names_each_variant_the_test_and_the_verdict(
        log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    abtest([str(log), "--split", "90/10"])
    out = capsys.readouterr().out
    assert "challenger - control: 0.0" in out and "always-valid interval" in out
    assert "sample ratio: control " in out and " requests against 5400, 600 expected" in out
    assert "shadow:candidate: answered 100.0% of live rows" in out
    assert out.rstrip().splitlines()[-1].startswith("stop and adopt: adopt challenger")


def test_json_holds_the_whole_result(log: Path, capsys: pytest.CaptureFixture[str]) -> None:
    abtest([str(log), "--json", "--alpha", "0.01"])
    record = json.loads(capsys.readouterr().out)
    assert record["alpha"] == 0.01 and record["sample_ratio"] is None
    assert [v["name"] for v in record["variants"]] == ["control", "challenger",
                                                       "shadow:candidate"]
    assert record["variants"][0]["measured"] == record["variants"][0]["rows"]
    assert record["verdict"] == "stop and adopt"


@pytest.mark.parametrize(("args", "error", "message"), [
    (["--split", "90/20"], ConfigError,
     r"^abtest --split '90/20': the shares sum to 110, not 100; e\.g\. --split 90/10\.$"),
    (["--split", "ninety"], ConfigError, r"^abtest --split 'ninety': expected positive "),
    (["--control", "controll"], ConfigError, r"Did you mean 'control'\?"),
    (["--alpha", "1.5"], ConfigError, r"^abtest --alpha 1\.5: expected a probability below 1"),
])
def test_a_bad_option_is_one_line(log: Path, args: list[str], error: type[Exception],
                                  message: str) -> None:
    with pytest.raises(error, match=message):
        abtest([str(log), *args])


def test_a_folder_that_is_no_log_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no predictions logged there"):
        abtest([str(tmp_path)])


def test_a_log_of_one_model_says_to_serve_several_variants(tmp_path: Path) -> None:
    frame = experiment_frame(100, accuracy={"control": 0.8}, split={"control": 1.0})
    root = write_log(tmp_path / "log", frame.drop(columns=VARIANT))
    with pytest.raises(DataError, match=r"names its variant \('_variant'\): a server answering "
                                        r"with one model wrote it\. Serve several variants"):
        abtest([str(root)])


def test_rows_logged_before_the_experiment_are_left_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = experiment_frame(400, accuracy={"control": 0.8, "challenger": 0.8},
                             split={"control": 0.5, "challenger": 0.5})
    frame[VARIANT] = frame[VARIANT].where(frame.index >= 200, None)
    exit_status([str(write_log(tmp_path / "log", frame)), "--json"])
    rows = [variant["rows"] for variant in json.loads(capsys.readouterr().out)["variants"]]
    assert sum(rows) == 600


@pytest.mark.parametrize(("accuracy", "verdict", "status"), [
    ({"control": 0.80, "challenger": 0.86}, "stop and adopt", 0),
    ({"control": 0.80, "challenger": 0.80}, "keep running", 0),
    ({"control": 0.86, "challenger": 0.80}, "stop and reject", 1),
])
def test_the_exit_status_says_whether_someone_must_act(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], accuracy: dict[str, float],
        verdict: str, status: int) -> None:
    """0 adopt or keep running (a cron job's normal run), 1 reject (stop the experiment)."""
    frame = experiment_frame(6000, accuracy=accuracy, split=SPLIT, latency_ms={})
    assert exit_status([str(write_log(tmp_path / "log", frame)), "--json"]) == status
    assert json.loads(capsys.readouterr().out)["verdict"] == verdict


def test_the_command_exits_2_with_one_line_and_no_traceback(log: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "engine", "abtest", str(log), "--split",
                           "90/20"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: abtest --split '90/20': the shares sum to 110, not 100; e.g. --split 90/10."]


def test_the_command_prints_the_verdict(log: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "engine", "abtest", str(log), "--json"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "stop and adopt"


def test_a_rejected_challenger_exits_1(tmp_path: Path) -> None:
    frame = experiment_frame(6000, accuracy={"control": 0.86, "challenger": 0.80}, split=SPLIT)
    done = subprocess.run([sys.executable, "-m", "engine", "abtest",
                           str(write_log(tmp_path / "log", frame))], capture_output=True,
                          text=True)
    assert done.returncode == 1, done.stderr
    assert done.stdout.rstrip().splitlines()[-1].startswith("stop and reject: challenger: ")


def test_outcomes_sent_as_feedback_to_the_engine_s_log_are_judged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The prediction log's own writer, one per variant as the server opens them, and
    conversions sent back for each request: 8 % for the control, 16 % for the challenger."""
    import numpy as np
    import pandas as pd

    from engine.config.schema.monitor import LogConfig
    from engine.monitoring.prediction_log import PredictionLog

    rng = np.random.default_rng(8)
    root = tmp_path / "log"
    logs = {name: PredictionLog(root, LogConfig(), columns=["x"], model="churn",
                                version=str(number), variant=name)
            for number, name in enumerate(["control", "challenger", "shadow:churn@3"], 1)}
    for index in range(3000):
        variant = "control" if rng.random() < 0.5 else "challenger"
        rows = pd.DataFrame({"x": rng.random(2)})
        for name in (variant, "shadow:churn@3"):
            logs[name].record(rows, pd.DataFrame({"prediction": [0, 1]}),
                              request_id=f"r{index}", latency_ms=5.0)
        converted = rng.random() < (0.16 if variant == "challenger" else 0.08)
        logs[variant].record_feedback(f"r{index}", None, outcome=float(converted))
    for log in logs.values():
        log.close()
    abtest([str(root), "--outcome", "--split", "50/50", "--json"])
    found = json.loads(capsys.readouterr().out)
    assert [variant["measured"] for variant in found["variants"]] == [
        variant["rows"] for variant in found["variants"][:2]] + [0]
    assert found["sample_ratio"]["unit"] == "requests"
    assert found["verdict"] == "stop and adopt"
