"""One step of the loop against a real registry, on real CSV batches, with real training runs."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console

from engine.deploy.registry import Registry
from engine.lifecycle.settings import load_lifecycle
from engine.lifecycle.state import read_state
from engine.lifecycle.step import StepOutcome, run_step
from tests.lifecycle.conftest import World, write_batches

CHANGED = {"shift": 1.0, "flip": True}
"""Batches whose columns drifted and whose rule between columns and label changed."""


def step(world: World, *overrides: str, dry_run: bool = False) -> StepOutcome:
    settings = load_lifecycle(str(world.lifecycle), overrides, registry=world.registry)
    return run_step(settings, registry=Registry(world.registry), console=Console(quiet=True),
                    dry_run=dry_run)


def aliases(world: World) -> dict[str, int | None]:
    registry = Registry(world.registry)
    return {alias: registry.alias_version("stream", alias)
            for alias in ("champion", "challenger", "previous")}


def test_a_drift_trigger_promotes_a_better_challenger(world: World) -> None:
    first = step(world)
    assert (first.status, first.fired) == ("nothing to do", [])
    assert first.message == "no trigger fired on 1200 new rows"
    write_batches(world.batches, range(3, 6), **CHANGED)

    outcome = step(world)

    assert outcome.status == "promoted" and outcome.exit_status == 0
    assert "drift" in outcome.fired
    assert outcome.message == ("stream@champion -> version 2 (was 1); stream@previous -> "
                               "version 1")
    assert aliases(world) == {"champion": 2, "challenger": 2, "previous": 1}
    decision = Registry(world.registry).decisions("stream")[-1]
    assert decision["outcome"] == "promoted" and decision["replaced"] == 1
    assert decision["window"]["rows"] == 1200 and decision["window"]["gate_rows"] == 400
    assert decision["window"]["training_rows"] == 800
    assert decision["window"]["gate_time_range"]["last"] == "2026-04-10T23:00:00+00:00"
    gate = decision["gate"]
    assert gate["challenger"] - gate["champion"] > 0.3 and gate["p_value"] < 0.05
    assert [test["test"] for test in gate["tests"]] == ["paired bootstrap", "McNemar (exact)"]
    assert gate["latency"]["ok"] and gate["fairness"] == {"failures": [], "ok": True}
    assert decision["challenger"]["run_dir"] == str(outcome.challenger_run)
    assert (Path(decision["challenger"]["run_dir"]) / "window.parquet").is_file()
    moves = Registry(world.registry).history("stream", "champion")
    assert (moves[-1].kind, moves[-1].previous, moves[-1].version) == ("gate", 1, 2)
    assert set(outcome.timing) == {"triggers", "window", "train", "gate", "registry", "total"}
    assert outcome.timing["train"] > 0 and outcome.timing["total"] >= outcome.timing["train"]


def test_no_new_rows_is_nothing_to_do(world: World) -> None:
    step(world)
    again = step(world)
    assert (again.status, again.message) == ("nothing to do", "no new rows since the last step")
    assert aliases(world) == {"champion": 1, "challenger": None, "previous": None}


def test_an_impossible_margin_rejects_the_challenger_and_moves_no_champion(world: World) -> None:
    step(world)
    write_batches(world.batches, range(3, 6), **CHANGED)
    outcome = step(world, "gate.margin=0.99")
    assert outcome.status == "rejected" and outcome.exit_status == 1
    assert outcome.message.startswith("the challenger is not better by more than 0.99")
    assert outcome.message.endswith("stream@champion stays version 1")
    assert aliases(world) == {"champion": 1, "challenger": 2, "previous": None}
    assert Registry(world.registry).decisions("stream")[-1]["outcome"] == "rejected"


def test_a_step_without_labels_waits_and_keeps_its_triggers(world: World) -> None:
    step(world)
    write_batches(world.batches, range(3, 6), labelled=False, **CHANGED)
    waiting = step(world)
    assert (waiting.status, waiting.message) == ("waiting", "waiting for labels: 0 of 200")
    assert waiting.exit_status == 0 and "drift" in waiting.fired
    assert "drift" in read_state(world.state).pending
    assert aliases(world)["champion"] == 1

    write_batches(world.batches, range(3, 6), **CHANGED)  # the labels came
    outcome = step(world, "triggers.when=[new_rows]", "triggers.every_rows=100000")
    assert outcome.status == "promoted"
    assert "drift" in outcome.fired  # pending from the step that waited
    assert read_state(world.state).pending == []


def test_a_dry_run_moves_nothing_and_the_real_step_reuses_its_challenger(world: World) -> None:
    step(world)
    write_batches(world.batches, range(3, 6), **CHANGED)
    dry = step(world, dry_run=True)
    assert dry.status == "promoted"
    assert dry.message == ("dry run: the challenger would become stream@champion (replacing "
                           "version 1); no alias moved")
    assert aliases(world) == {"champion": 1, "challenger": None, "previous": None}
    assert [v.version for v in Registry(world.registry).versions("stream")] == [1]
    assert Registry(world.registry).decisions("stream")[-1]["dry_run"] is True
    trained = (dry.challenger_run / "run.json").stat().st_mtime_ns  # type: ignore[operator]

    real = step(world)
    assert real.status == "promoted" and real.challenger_run == dry.challenger_run
    assert (real.challenger_run / "run.json").stat().st_mtime_ns == trained  # type: ignore[operator]
    assert aliases(world) == {"champion": 2, "challenger": 2, "previous": 1}


def test_the_schedule_counts_hours_from_the_champions_registration(world: World) -> None:
    settings = load_lifecycle(str(world.lifecycle), ["triggers.when=[schedule,new_rows]",
                                                     "triggers.every_hours=24",
                                                     "triggers.every_rows=5000"],
                              registry=world.registry)
    registered = datetime.fromisoformat(Registry(world.registry).version("stream", 1).created)

    def judged(now: datetime) -> dict[str, tuple[bool, str]]:
        outcome = run_step(settings, registry=Registry(world.registry),
                           console=Console(quiet=True), now=now, dry_run=True)
        return {result.name: (result.fired, result.detail) for result in outcome.triggers}

    assert judged(registered + timedelta(hours=6)) == {
        "schedule": (False, "6.0 h since the last step (every 24 h)"),
        "new_rows": (False, "1200 new rows (every 5000)")}
    assert judged(registered + timedelta(hours=30))["schedule"] == (
        True, "30.0 h since the last step (every 24 h)")
