"""A step killed half-way (a real process, SIGKILL) resumes on the same window: a challenger
whose training was cut short is trained again, a finished one is reused, never trained twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.deploy.registry import Registry
from tests.conftest import REPO, run_main
from tests.lifecycle.conftest import World, write_batches

CHANGED = {"shift": 1.0, "flip": True}


def start_retrain(world: World) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "engine", "retrain", str(world.lifecycle)],
                            cwd=REPO, env={**os.environ, **world.env}, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_when(process: subprocess.Popen[str], ready: Callable[[], bool]) -> None:
    """SIGKILL ``process`` as soon as ``ready()`` holds (polled every few milliseconds)."""
    while not ready():
        assert process.poll() is None, "the step ended before it could be killed"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()


def challenger_run(world: World) -> Path | None:
    state = world.state / "state.json"
    if not state.is_file():
        return None
    progress = json.loads(state.read_text())["in_progress"]
    return Path(progress["run_dir"]) if progress else None


@pytest.mark.slow
def test_a_killed_step_resumes_and_never_trains_twice(world: World) -> None:
    run_main(["retrain", str(world.lifecycle)], world.state.parent, env=world.env)  # nothing
    write_batches(world.batches, range(3, 6), **CHANGED)

    training = start_retrain(world)  # killed while it trains: no run.json yet
    kill_when(training, lambda: (run := challenger_run(world)) is not None
              and (run / "window.parquet").is_file())
    run_dir = challenger_run(world)
    assert run_dir is not None and not (run_dir / "run.json").exists()

    judging = start_retrain(world)  # trains again, killed once the run is finished
    kill_when(judging, lambda: (run_dir / "run.json").is_file()
              and (run_dir / "model" / "MANIFEST.json").is_file())
    assert challenger_run(world) == run_dir
    trained = (run_dir / "run.json").stat().st_mtime_ns

    done = run_main(["retrain", str(world.lifecycle)], world.state.parent, env=world.env)
    assert done.returncode == 0, done.stderr
    assert f"reusing the challenger trained before the step was cut short: {run_dir}" in \
        done.stdout.replace("\n", "")
    assert (run_dir / "run.json").stat().st_mtime_ns == trained  # not trained a third time
    registry = Registry(world.registry)
    assert registry.alias_version("stream", "champion") == 2
    assert [version.version for version in registry.versions("stream")] == [1, 2]
    assert len(registry.decisions("stream")) == 1

    again = run_main(["retrain", str(world.lifecycle)], world.state.parent, env=world.env)
    assert again.stdout.strip() == "nothing to do: no new rows since the last step"
