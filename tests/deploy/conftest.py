"""A trained run on mixed-type rows from a real CSV file, and real server processes for it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from engine.config.compose import compose_spec
from engine.experiment import run_experiment
from tests.conftest import REPO

T = TypeVar("T")


def mixed_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = rng.choice(["paris", "oslo", "rome"], rows)
    size = rng.normal(50, 10, rows).round(1)
    size[::25] = np.nan
    member = rng.random(rows) < 0.5
    label = np.where((city == "oslo") | (size > 55) | member, "yes", "no")
    return pd.DataFrame({"id": range(rows), "city": city, "size": size, "member": member,
                         "label": label})


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A logistic regression trained on 400 mixed rows read from a CSV file."""
    tmp = tmp_path_factory.mktemp("trained")
    data = tmp / "mixed.csv"
    mixed_frame(400, 0).to_csv(data, index=False)
    run_dir = tmp / "run"
    run_dir.mkdir()
    spec = compose_spec(["dataset=titanic", f"dataset.path={data}", "dataset.target=label",
                         "dataset.drop=[id]", "model=logistic_regression",
                         "split.cv.n_splits=3", "report=false"])
    run_experiment(spec, run_dir, project_dir=REPO, console=Console(quiet=True))
    return run_dir


@pytest.fixture(scope="module")
def narrow_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model of the same rows without the ``member`` column: another input schema."""
    tmp = tmp_path_factory.mktemp("narrow")
    mixed_frame(400, 0).to_csv(tmp / "mixed.csv", index=False)
    spec = compose_spec(["dataset=titanic", f"dataset.path={tmp / 'mixed.csv'}",
                         "dataset.target=label", "dataset.drop=[id,member]",
                         "model=logistic_regression", "split.cv.n_splits=3", "report=false"])
    run_experiment(spec, tmp / "run", project_dir=REPO, console=Console(quiet=True))
    return tmp / "run"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO,
                 command: list[str] | None = None) -> Iterator[str]:
    """``python -m engine serve ARGS`` (or ``command`` with ``{port}`` in it) on a free port
    until ready; yields its base URL."""
    port = free_port()
    argv = [part.replace("{port}", str(port)) for part in command] if command else [
        sys.executable, "-m", "engine", "serve", *args, "--port", str(port)]
    process = subprocess.Popen(
        argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"the server exited: {output}")
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError("the server did not become ready in 60 s")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(trained_run: Path) -> Iterator[str]:
    """The trained run served with a 50-row and 64 KB limit."""
    yield from start_server(str(trained_run), "--max-rows", "50", "--max-body-mb", "0.0625")


def eventually(check: Callable[[], T | None], what: str) -> T:
    """``check()`` once it is not None (a server's log, drift window and registry follower work
    on threads of their own); fails after a generous minute."""
    deadline = time.monotonic() + 60
    while (found := check()) is None:
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found
