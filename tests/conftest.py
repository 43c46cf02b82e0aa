"""Fixtures that compose and run experiments exactly as the CLI does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from rich.console import Console

from engine.config.compose import compose_spec
from engine.experiment import RunResult, run_experiment
from tests.postgres import postgres_url  # noqa: F401  (the fixture, for every test)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ENGINE_SHARED_DATA", REPO.parent / "shared" / "data"))
FAST = ("split.cv.n_splits=3",)


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., RunResult]:
    """Run an experiment in-process from CLI-style overrides into a fresh run directory."""
    count = iter(range(1000))

    def _run(*overrides: str) -> RunResult:
        run_dir = tmp_path / f"run{next(count)}"
        run_dir.mkdir()
        spec = compose_spec(list(overrides))
        return run_experiment(spec, run_dir, project_dir=REPO, console=Console(quiet=True))

    return _run


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m engine ARGS`` in a subprocess with outputs under tmp_path."""

    def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(args, tmp_path, env)

    return _cli


def run_cli(
    args: Sequence[str], output_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m engine`` from the repo root, runs landing in ``output_dir``."""
    environment = {**os.environ, "ENGINE_OUTPUT_DIR": str(output_dir), "COLUMNS": "200"}
    environment.pop("ENGINE_TRACEBACK", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def only_run_dir(output_dir: Path) -> Path:
    """The single run directory a CLI run made under ``output_dir``."""
    (run_dir,) = (output_dir / "runs").iterdir()
    return run_dir
