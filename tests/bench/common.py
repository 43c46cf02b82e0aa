"""Shared by the benchmarks: timing whole processes and reading their peak memory."""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EVALUATION_OFF = ("metrics.bootstrap.resamples=0", "metrics.diagnostics.enabled=false",
                  "metrics.explain.importance_repeats=0", "report=false")
"""Overrides that leave a run the CV, fit and test scores a hand-written script computes."""
SHARED_DATA = Path(os.environ.get("ENGINE_SHARED_DATA", REPO.parent / "shared" / "data"))


def timed_process(args: Sequence[str], env: dict[str, str] | None = None) -> float:
    """Wall seconds of one whole process (interpreter start included); fails loudly."""
    return timed_run(args, env)[0]


def timed_run(args: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall seconds and standard output of one whole process; fails loudly."""
    started = time.perf_counter()
    done = subprocess.run(
        list(args), cwd=REPO, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def engine_command(*args: str) -> list[str]:
    """``python -m engine ARGS`` with this interpreter."""
    return [sys.executable, "-m", "engine", *args]


def median_of(runs: list[float]) -> float:
    return statistics.median(runs)


def peak_child_rss_gb() -> float:
    """Peak resident memory of the largest finished child process, in GB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
