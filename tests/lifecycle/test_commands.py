"""retrain and lifecycle run as a user runs them: settings from the champion's run or a file,
the loop's Ctrl-C, a real server following the promotion and the rollback, the shipped files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml

from engine.config.compose import CONFIG_DIR, compose_spec
from engine.config.schema import json_schema, parse_section
from engine.config.schema.lifecycle import LifecycleConfig
from engine.deploy.registry import Registry
from tests.conftest import REPO, run_main
from tests.deploy.conftest import start_server
from tests.lifecycle.conftest import World, batch, write_batches

CHANGED = {"shift": 1.0, "flip": True}
SHIPPED = sorted(path.stem for path in (CONFIG_DIR / "lifecycle").glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_lifecycle_file_composes_and_validates(name: str) -> None:
    compose_spec([f"lifecycle={name}"])  # the whole experiment's schema takes it
    values = yaml.safe_load((CONFIG_DIR / "lifecycle" / f"{name}.yaml").read_text())
    values.pop("defaults")
    jsonschema.validate(values, json_schema("lifecycle"))
    parse_section(LifecycleConfig, values, "lifecycle.")


def test_static_is_the_default_and_drift_retrains_on_the_monitors_alerts() -> None:
    assert SHIPPED == ["drift", "static"]
    assert LifecycleConfig().triggers.when == ["manual"]  # static: only a person retrains
    drift = yaml.safe_load((CONFIG_DIR / "lifecycle" / "drift.yaml").read_text())
    assert drift["triggers"]["when"] == ["drift", "estimated_decay", "decay", "schedule"]


def test_retrain_by_name_reads_the_settings_the_champions_run_recorded(world: World) -> None:
    """The champion trained with lifecycle=static: its own dataset is read again, and a person
    running retrain fires the manual trigger; the state lives under <outputs>/lifecycle."""
    outputs = world.state.parent / "outputs"
    done = run_main(["retrain", "stream@champion", "gate.resamples=200"], outputs,
                    env=world.env)
    assert "trigger manual: fired (retrain run by hand)" in done.stdout
    assert f"the champion's dataset ({world.champion.data})" in Registry(
        world.registry).decisions("stream")[-1]["window"]["source"]
    assert (outputs / "lifecycle" / "stream" / "state.json").is_file()
    # the challenger learnt from the rows the champion trained on, and is judged on rows the
    # champion saw: it is not proven better
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("rejected: the challenger is not "
                                                           "better")
    assert Registry(world.registry).alias_version("stream", "champion") == 1


def test_lifecycle_run_once_and_a_bad_interval(world: World) -> None:
    done = run_main(["lifecycle", "run", str(world.lifecycle), "--once"], world.state.parent,
                    env=world.env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("nothing to do: no trigger fired on 1200 new rows")
    done = run_main(["lifecycle", "run", str(world.lifecycle), "--every", "soon"],
                    world.state.parent, env=world.env)
    assert (done.returncode, done.stderr) == (2, "error: --every: 'soon' is not an interval; "
                                                 "write a number above 0 and a unit, e.g. 30s, "
                                                 "15m, 1h or 1d.\n")


def test_the_loop_stops_on_ctrl_c_with_one_line_and_resumes(world: World) -> None:
    loop = subprocess.Popen(
        [sys.executable, "-m", "engine", "lifecycle", "run", str(world.lifecycle), "--every",
         "1h"], cwd=REPO, env={**os.environ, **world.env, "COLUMNS": "200"}, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state = world.state / "state.json"
    while not state.is_file():  # the first step finished
        assert loop.poll() is None, loop.communicate()
        time.sleep(0.05)
    loop.send_signal(signal.SIGINT)
    stdout, stderr = loop.communicate(timeout=60)
    assert loop.returncode == 130
    assert stderr == ("interrupted (Ctrl-C): the loop stopped; run it again to resume (a step "
                      "cut short reuses its trained challenger).\n")
    assert "nothing to do: no trigger fired on 1200 new rows" in stdout
    done = run_main(["lifecycle", "run", str(world.lifecycle), "--once"], world.state.parent,
                    env=world.env)
    assert done.stdout.strip().endswith("nothing to do: no new rows since the last step")


@pytest.mark.slow
def test_the_full_loop_a_served_alias_follows_promotion_and_rollback(world: World) -> None:
    """A real server on stream@champion, a drift trigger, the gate, the alias moved, the server
    answering with the new version, and a rollback it follows too."""
    row = batch(9, **CHANGED).drop(columns=["y", "ts"]).head(1).to_dict(orient="records")
    body = {"dataframe_records": row}
    served = start_server("stream@champion", "--registry", str(world.registry), "--follow",
                          "0.2", "--no-log")
    url = next(served)
    try:
        assert httpx.post(f"{url}/invocations", json=body).json()["model_version"] == 1
        run_main(["retrain", str(world.lifecycle)], world.state.parent, env=world.env)
        write_batches(world.batches, range(3, 6), **CHANGED)
        done = run_main(["retrain", str(world.lifecycle)], world.state.parent, env=world.env)
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.strip().splitlines()
        assert lines[0].startswith("trigger drift: fired (2 of 3 columns drifted")
        assert lines[-1] == ("promoted: stream@champion -> version 2 (was 1); stream@previous "
                             "-> version 1")
        assert _answered_by(url, body, 2)
        rolled = run_main(["registry", "--registry", str(world.registry), "rollback", "stream"],
                          world.state.parent)
        assert rolled.returncode == 0, rolled.stderr
        assert _answered_by(url, body, 1)
        kinds = [move.kind for move in Registry(world.registry).history("stream", "champion")]
        assert kinds == ["register", "gate", "rollback"]
    finally:
        served.close()


def _answered_by(url: str, body: dict[str, object], version: int) -> bool:
    """Whether the server answers with ``version`` within 30 s (it polls the alias)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = httpx.post(f"{url}/invocations", json=body)
        assert answer.status_code == 200, answer.text  # no request fails during the swap
        if answer.json()["model_version"] == version:
            return True
        time.sleep(0.1)
    return False


def test_a_lifecycle_file_names_its_model(tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.yaml"
    path.write_text("model: stream/1\n")
    done = run_main(["retrain", str(path)], tmp_path)
    assert (done.returncode, done.stderr) == (
        2, "error: lifecycle.model 'stream/1': name the registered model with the alias it "
           "defends, NAME@ALIAS (e.g. churn@champion), or give a lifecycle YAML file.\n")


def test_retrain_by_name_without_a_registry_creates_none(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "registry.db"
    done = run_main(["retrain", "churn@champion", "--registry", str(missing)], tmp_path)
    assert (done.returncode, done.stderr) == (
        2, f"error: model 'churn@champion': no registry at {missing} to look it up in; register "
           "the champion first (python -m engine registry register RUN NAME --alias champion), "
           "or pass --registry.\n")
    assert not missing.parent.exists()
