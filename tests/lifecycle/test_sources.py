"""The other sources: a SQL table that grows, and the prediction log joined with its labels."""

from __future__ import annotations

import re
import sqlite3

import pandas as pd
from rich.console import Console

from engine.deploy.registry import Registry
from engine.lifecycle.settings import load_lifecycle
from engine.lifecycle.step import StepOutcome, run_step
from tests.conftest import run_main
from tests.lifecycle.conftest import World, batch

CHANGED = {"shift": 1.0, "flip": True}


def step(world: World) -> StepOutcome:
    settings = load_lifecycle(str(world.lifecycle), registry=world.registry)
    return run_step(settings, registry=Registry(world.registry), console=Console(quiet=True))


def test_a_sql_table_that_grows(world: World) -> None:
    database = world.state.parent / "stream.db"
    with sqlite3.connect(database) as connection:
        pd.concat([batch(index) for index in range(3)]).to_sql("stream", connection, index=False)
    world.settings(source={"type": "sql", "url": f"sqlite:///{database}",
                           "query": "SELECT * FROM stream", "time_column": "ts"})
    assert step(world).message == "no trigger fired on 1200 new rows"
    with sqlite3.connect(database) as connection:
        pd.concat([batch(index, **CHANGED) for index in range(3, 6)]).to_sql(
            "stream", connection, index=False, if_exists="append")

    outcome = step(world)

    assert (outcome.status, outcome.fired[0]) == ("promoted", "drift")
    window = Registry(world.registry).decisions("stream")[-1]["window"]
    assert window["source"] == f"the query of lifecycle.source.url sqlite:///{database}"
    assert window["time_range"] == {"first": "2026-02-20T00:00:00+00:00",
                                    "last": "2026-04-10T23:00:00+00:00"}


def test_the_prediction_log_joined_with_a_labels_file(world: World) -> None:
    log, labels = world.state.parent / "log", []
    for index in range(3, 6):
        rows = batch(index, **CHANGED)
        path = world.state.parent / f"batch_{index}.csv"
        rows.drop(columns="y").to_csv(path, index=False)
        done = run_main(["predict", str(world.champion.run_dir), str(path), "-o",
                         str(world.state.parent / f"predicted_{index}.csv"), "--log", str(log)],
                        world.state.parent)
        assert done.returncode == 0, done.stderr
        request = re.search(r"as request (\S+)", done.stderr.replace("\n", ""))
        assert request is not None, done.stderr
        labels.append(pd.DataFrame({"_request_id": request.group(1), "_row": range(len(rows)),
                                    "y": rows["y"]}))
    pd.concat(labels).to_csv(world.state.parent / "labels.csv", index=False)
    world.settings(source={"type": "log", "path": str(log),
                           "labels": str(world.state.parent / "labels.csv")})

    outcome = step(world)

    assert outcome.status == "promoted" and "drift" in outcome.fired
    decision = Registry(world.registry).decisions("stream")[-1]
    assert decision["window"]["source"] == f"the prediction log {log}"
    assert decision["window"]["labelled"] == 1200
    assert step(world).message == "no new rows since the last step"
