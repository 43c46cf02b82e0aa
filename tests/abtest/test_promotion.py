"""``abtest --promote``: the winner moved through a real SQLite registry holding runs the
engine trained (churn 1: a logistic regression, the control; 2: the majority class, the
challenger), over logs that name those versions as a server logs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.deploy.registry import Registry
from engine.errors import ConfigError, DataError
from engine.monitoring.columns import MODEL, VARIANT, VERSION
from tests.abtest.experiment_logs import exit_status, experiment_frame, write_log
from tests.abtest.trained_runs import train_pair

SPLIT = {"control": 0.5, "challenger": 0.5}
BETTER = {"control": 0.80, "challenger": 0.86}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_pair(tmp_path_factory.mktemp("abtest-runs"))


@pytest.fixture
def registry(runs: tuple[Path, Path], tmp_path: Path) -> Registry:
    """churn 1 (champion) and 2 (challenger), in a registry of the test's own."""
    registry = Registry(tmp_path / "registry.db")
    registry.register(runs[0], "churn", alias="champion")
    registry.register(runs[1], "churn", alias="challenger")
    return registry


def logged(tmp_path: Path, accuracy: dict[str, float], **columns: object) -> Path:
    """A log of 6,000 requests split 50/50 by control (churn 1) and challenger (churn 2),
    with ``columns`` replaced."""
    frame = experiment_frame(6000, accuracy=accuracy, split=SPLIT, latency_ms={})
    return write_log(tmp_path / "log", frame.assign(**columns))


def promote(log: Path, registry: Registry, *options: str) -> int:
    return exit_status([str(log), "--split", "50/50", "--promote", "--registry",
                        str(registry.path), *options])


def test_an_adopted_challenger_becomes_the_champion_with_its_evidence(
        tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    log = logged(tmp_path, BETTER)
    assert promote(log, registry) == 0
    out = capsys.readouterr().out.rstrip().splitlines()
    assert out[-2].startswith("stop and adopt: adopt challenger: challenger is better")
    assert out[-1] == "churn@champion -> version 2 (was 1); churn@previous -> version 1"
    assert (registry.alias_version("churn", "champion"),
            registry.alias_version("churn", "previous")) == (2, 1)
    move = registry.history("churn", "champion")[-1]
    assert (move.kind, move.previous, move.version) == ("gate", 1, 2)
    assert move.reason.startswith("abtest: challenger better than control (accuracy +0.0")
    assert move.evidence["abtest"]["verdict"] == "stop and adopt"
    assert move.evidence["abtest"]["winner"] == "challenger"
    assert move.evidence["log"] == str(log.resolve())
    [decision] = registry.decisions("churn")
    assert decision["outcome"] == "promoted" and decision["origin"] == "abtest"
    assert (decision["champion"]["version"], decision["challenger"]["version"],
            decision["replaced"]) == (1, 2, 1)
    assert decision["gate"]["p_value"] < 0.05 < decision["gate"]["difference"] + 0.05


def test_registry_history_shows_the_move_and_the_decision(
        tmp_path: Path, registry: Registry) -> None:
    assert promote(logged(tmp_path, BETTER), registry) == 0
    history = [sys.executable, "-m", "engine", "registry", "--registry", str(registry.path),
               "history", "churn"]
    done = subprocess.run(history, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "250"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(" champion " in line and "1 -> 2" in line and " gate " in line and
               "abtest: challenger better" in line for line in lines), done.stdout
    assert any(" promoted " in line and "1 vs 2" in line and "challenger is better than "
               "control" in line for line in lines), done.stdout
    done = subprocess.run([*history, "--json"], capture_output=True, text=True)
    record = json.loads(done.stdout)
    assert record["moves"][-2]["evidence"]["abtest"]["comparisons"][0]["verdict"] == \
        "stop and adopt"


def test_run_again_nothing_is_moved_or_recorded_twice(
        tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    log = logged(tmp_path, BETTER)
    assert promote(log, registry) == 0
    moves = len(registry.history("churn"))
    assert promote(log, registry) == 0
    assert capsys.readouterr().out.rstrip().endswith(
        "churn@champion is already version 2: nothing moves")
    assert len(registry.history("churn")) == moves and len(registry.decisions("churn")) == 1


def test_a_rollback_after_the_promotion_is_not_undone(
        tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    log = logged(tmp_path, BETTER)
    assert promote(log, registry) == 0
    registry.rollback("churn", reason="the new champion misbehaves")
    assert promote(log, registry) == 0
    assert capsys.readouterr().out.rstrip().endswith(
        "churn@champion was moved to version 2 by this experiment and has moved since (to 1): "
        "nothing moves again")
    assert registry.alias_version("churn", "champion") == 1


def test_cut_short_after_the_decision_the_next_run_makes_the_move(
        tmp_path: Path, registry: Registry) -> None:
    """The decision is kept before the alias moves (as the lifecycle's step does)."""
    log = logged(tmp_path, BETTER)
    assert promote(log, registry) == 0
    [decision] = registry.decisions("churn")
    other = Registry(tmp_path / "other.db")
    other.register(Path(registry.version("churn", 1).run_dir), "churn", alias="champion")
    other.register(Path(registry.version("churn", 2).run_dir), "churn")
    other.record_decision("churn", {key: value for key, value in decision.items()
                                    if key not in ("id",)})
    assert promote(log, other) == 0
    assert other.alias_version("churn", "champion") == 2
    assert len(other.decisions("churn")) == 1


def test_a_rejected_challenger_moves_nothing_and_its_rejection_is_kept(
        tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert promote(logged(tmp_path, {"control": 0.86, "challenger": 0.80}), registry) == 1
    assert capsys.readouterr().out.rstrip().endswith(
        "nothing moves: the challengers are rejected; the rejection of churn/2 is recorded")
    assert registry.alias_version("churn", "champion") == 1
    [decision] = registry.decisions("churn")
    assert decision["outcome"] == "rejected" and decision["replaced"] is None
    assert decision["reasons"][0].startswith("challenger is worse than control: p = ")


def test_an_experiment_to_keep_running_moves_and_records_nothing(
        tmp_path: Path, registry: Registry, capsys: pytest.CaptureFixture[str]) -> None:
    assert promote(logged(tmp_path, {"control": 0.8, "challenger": 0.8}), registry) == 0
    last_two = capsys.readouterr().out.rstrip().splitlines()[-2:]
    assert last_two[0].startswith("keep running: challenger: no difference proven yet: p = ")
    assert last_two[1] == "nothing moves until the verdict is to stop: keep the experiment running"
    assert registry.alias_version("churn", "champion") == 1
    assert registry.decisions("churn") == []


def test_the_server_s_model_names_are_checked_against_the_registered_versions(
        tmp_path: Path, registry: Registry) -> None:
    """A server logs the model's own name (``logistic_regression``, ``dummy``) as ``_model``,
    not the registered one: --model names it, and a version of another model is refused."""
    frame = experiment_frame(6000, accuracy=BETTER, split=SPLIT, latency_ms={})
    frame[MODEL] = frame[VARIANT].map({"control": "logistic_regression", "challenger": "dummy"})
    log = write_log(tmp_path / "log", frame)
    with pytest.raises(ConfigError, match=r"^abtest --promote: the log does not say which "
                       r"registered model challenger \(version 2\) is a version of \(its _model "
                       r"is 'dummy'\); name it with --model NAME\. Valid options: churn\.$"):
        promote(log, registry)
    swapped = write_log(tmp_path / "swapped", frame.assign(**{
        VERSION: frame[VERSION].map({"1": "2", "2": "1"})}))
    with pytest.raises(ConfigError, match=r"churn/1 in .* is a 'logistic_regression' model, but "
                                          r"challenger's rows were answered by a 'dummy'"):
        promote(swapped, registry, "--model", "churn")
    assert registry.alias_version("churn", "champion") == 1
    assert promote(log, registry, "--model", "churn") == 0
    assert registry.alias_version("churn", "champion") == 2


@pytest.mark.parametrize(("change", "error", "message"), [
    ("run directory", ConfigError, r"^abtest --promote: challenger was served from a run "
     r"directory, not a registered version, so there is no version to promote; register it"),
    ("champion moved", ConfigError, r"^abtest --promote: churn@champion is version 3, not the "
     r"version 1 that challenger was tested against; .* registry alias churn champion 2\.$"),
    ("two experiments", DataError, r"^abtest --promote: the rows of challenger name versions "
     r"2, 3: the log holds more than one experiment"),
])
def test_a_promotion_that_cannot_be_trusted_is_refused_in_one_line(
        tmp_path: Path, registry: Registry, runs: tuple[Path, Path], change: str,
        error: type[Exception], message: str) -> None:
    frame = experiment_frame(6000, accuracy=BETTER, split=SPLIT, latency_ms={})
    challenger = frame[VARIANT] == "challenger"
    if change == "run directory":
        frame[VERSION] = frame[VERSION].where(~challenger, None)
    elif change == "champion moved":
        registry.register(runs[0], "churn", alias="champion")
    else:
        frame[VERSION] = frame[VERSION].where(~challenger | (frame.index % 2 == 0), "3")
    with pytest.raises(error, match=message):
        promote(write_log(tmp_path / "log", frame), registry)
    assert registry.alias_version("churn", "champion") == (3 if change == "champion moved"
                                                            else 1)
    assert registry.decisions("churn") == []


def test_a_promotion_refused_exits_2_in_one_line(tmp_path: Path, registry: Registry) -> None:
    frame = experiment_frame(6000, accuracy=BETTER, split=SPLIT, latency_ms={})
    log = write_log(tmp_path / "log", frame.assign(**{MODEL: "unknown"}))
    done = subprocess.run([sys.executable, "-m", "engine", "abtest", str(log), "--promote",
                           "--registry", str(registry.path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: abtest --promote: the log does not say which registered model challenger "
        "(version 2) is a version of (its _model is 'unknown'); name it with --model NAME. "
        "Valid options: churn."]
    assert registry.alias_version("churn", "champion") == 1
