"""Each mistake in the settings or the rows: one line naming it, exit 2, no alias moved."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.deploy.registry import Registry
from tests.conftest import run_main
from tests.lifecycle.conftest import World, batch


def added(world: World) -> list[str]:
    batch(3).assign(z=1.0).to_csv(world.batches / "batch_03.csv", index=False)
    return []


def dropped(world: World) -> list[str]:
    batch(3).drop(columns="x2").to_csv(world.batches / "batch_03.csv", index=False)
    return []


def retyped(world: World) -> list[str]:
    rows = batch(3)
    rows["x1"] = rows["x1"].map(lambda value: "high" if value > 0 else "low")
    rows.to_csv(world.batches / "batch_03.csv", index=False)
    return []


def few_labelled(world: World) -> list[str]:
    for path in world.batches.glob("*.csv"):
        path.unlink()
    batch(3, rows=410).to_csv(world.batches / "batch_03.csv", index=False)
    return ["--force"]


def unknown_trigger(world: World) -> list[str]:
    return ["triggers.when=[drfit,schedule]"]


def unscorable_metric(world: World) -> list[str]:
    return ["gate.metric=r2"]


@pytest.mark.parametrize(("make", "message"), [
    (added, "error: schema changed: column 'z' of {batches}/batch_03.csv is new "
            "(added since the champion was trained); retrain keeps the champion's input "
            "columns: train and register a new model by hand for the new schema, or fix the "
            "source."),
    (dropped, "error: schema changed: column 'x2' (numeric), which the champion was trained "
              "on, is missing from {batches}/batch_03.csv (dropped); retrain keeps"),
    (retyped, "error: schema changed: column 'x1' of {batches}/batch_03.csv holds "
              "categorical values ("),
    (few_labelled, "error: lifecycle.window: too few labelled rows: the window holds 410, the "
                   "gate holds out 400 (gate.holdout_rows=400), leaving 10 to train the "
                   "challenger on (at least 20); widen the window (window.rows=1200) or hold "
                   "out fewer rows."),
    (unknown_trigger, "error: lifecycle.triggers.when: 'drfit' is not a trigger. Did you mean "
                      "'drift'? Triggers: drift, prediction_drift, estimated_decay, decay, "
                      "schedule, new_rows, manual."),
    (unscorable_metric, "error: lifecycle.gate.metric=r2: metric"),
], ids=lambda value: getattr(value, "__name__", ""))
def test_a_mistake_is_one_line_exit_2_and_no_alias_moves(
        world: World, make: Callable[[World], list[str]], message: str) -> None:
    arguments = make(world)
    done = run_main(["retrain", str(world.lifecycle), *arguments], world.state.parent,
                    env=world.env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(message.format(batches=world.batches)), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    registry = Registry(world.registry)
    assert registry.alias_version("stream", "champion") == 1
    assert [version.version for version in registry.versions("stream")] == [1]


@pytest.mark.parametrize(("override", "message"), [
    ("gate.alpha=2", "error: lifecycle.gate.alpha: 2"),
    ("window.kind=last_days", "error: lifecycle.window.kind=last_days needs window.days; set "
                              "it, e.g. lifecycle.window.days=30."),
    ("window.rows=100", "error: lifecycle.window.rows=100: a window of 100 rows can never give "
                        "the gate 200 labelled rows"),
    ("triggers.when=[schedule]", "error: lifecycle.triggers.when holds schedule, which needs "
                                 "lifecycle.triggers.every_hours; set it, e.g. "
                                 "lifecycle.triggers.every_hours=24."),
    ("source.type=table", "error: lifecycle.source.type: unknown value 'table'."),
    ("gaet.alpha=0.1", "error: lifecycle.gaet: unknown key. Did you mean 'gate'?"),
])
def test_a_bad_setting_is_refused_before_any_data(world: World, override: str,
                                                  message: str) -> None:
    done = run_main(["retrain", str(world.lifecycle), override], world.state.parent,
                    env=world.env)
    assert done.returncode == 2
    assert done.stderr.startswith(message), done.stderr
    assert not world.state.exists()


def test_a_lifecycle_file_without_a_model_or_missing_is_named(world: World) -> None:
    world.settings(model=None)
    done = run_main(["retrain", str(world.lifecycle)], world.state.parent, env=world.env)
    assert (done.returncode, done.stderr) == (2, f"error: lifecycle file {world.lifecycle}: no "
                                                 "'model'; name the registered model it keeps "
                                                 "fresh, e.g. model: churn@champion.\n")
    done = run_main(["retrain", str(world.lifecycle.with_name("nope.yaml"))], world.state.parent,
                    env=world.env)
    assert done.returncode == 2 and "nope.yaml: no such file" in done.stderr
