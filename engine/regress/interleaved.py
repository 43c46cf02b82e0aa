"""Timing both sides interleaved: one long-lived worker process per side (imports and loading
are paid once, never timed), asked in turn, ABBA by pairs, so that both see the same load and
a drift in the machine's speed falls on both alike."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from engine.regress.base_env import SideEnvironment
from engine.regress.base_failure import BaseFailed

WORKER = Path(__file__).with_name("timing_worker.py")
REPEATS_OF = {"fit_seconds": "fit_repeats", "predict_ms": "predict_repeats"}
OPERATION = {"fit_seconds": "fit", "predict_ms": "predict"}


@dataclass(frozen=True)
class TimingTask:
    """What to time for one experiment: its training rows (features and target, Parquet), each
    side's run and the guarded keys."""

    name: str
    features: Path
    target: Path
    base_run: Path
    change_run: Path
    keys: tuple[str, ...]


@dataclass
class PairedTimings:
    """Pairs of samples per key (``base[i]`` and ``change[i]`` taken back to back), or the
    change side's error."""

    base: dict[str, list[float]] = field(default_factory=dict)
    change: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None


class WorkerError(Exception):
    """A request the worker answered with an error (or could not answer: it died)."""


class Worker:
    """A side's timing worker process; its stderr goes to ``log``."""

    def __init__(self, environment: SideEnvironment, log: IO[str]) -> None:
        self.process = subprocess.Popen(
            [environment.python, "-P", str(WORKER)], cwd=environment.tree,
            env=environment.environ(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log, text=True, bufsize=1)

    def ask(self, request: dict[str, Any]) -> float:
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise WorkerError("the timing worker exited (see its log)") from None
        line = self.process.stdout.readline()
        if not line:
            raise WorkerError("the timing worker exited (see its log)")
        reply = json.loads(line)
        if not reply["ok"]:
            raise WorkerError(reply["error"])
        return float(reply.get("value", 0.0))

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


@contextmanager
def workers(base: SideEnvironment, change: SideEnvironment,
            logs: Path) -> Iterator[tuple[Worker, Worker]]:
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        started = []
        for side, environment in (("base", base), ("change", change)):
            log = stack.enter_context((logs / f"timing-{side}.log").open("w"))
            worker = Worker(environment, log)
            stack.callback(worker.close)
            started.append(worker)
        yield started[0], started[1]


def time_interleaved(tasks: list[TimingTask], repeats: dict[str, int], *, base: SideEnvironment,
                     change: SideEnvironment, logs: Path,
                     on_done: Callable[[str], None]) -> dict[str, PairedTimings]:
    """Paired samples of every task's keys; the base failing raises BaseFailed."""
    timed: dict[str, PairedTimings] = {}
    with workers(base, change, logs) as (base_worker, change_worker):
        for task in tasks:
            timed[task.name] = paired = PairedTimings()
            try:
                _load(base_worker, task, task.base_run, logs)
                change_worker.ask(_load_request(task, task.change_run))
                for key in task.keys:
                    pairs = _pairs(base_worker, change_worker, OPERATION[key],
                                   repeats[REPEATS_OF[key]], task.name, logs)
                    paired.base[key], paired.change[key] = pairs
            except WorkerError as error:
                paired.error = f"timing failed: {error} (log: {logs / 'timing-change.log'})"
            on_done(task.name)
    return timed


def _load_request(task: TimingTask, run_dir: Path) -> dict[str, Any]:
    return {"op": "load", "run_dir": str(run_dir), "features": str(task.features),
            "target": str(task.target)}


def _load(worker: Worker, task: TimingTask, run_dir: Path, logs: Path) -> None:
    try:
        worker.ask(_load_request(task, run_dir))
    except WorkerError as error:
        raise BaseFailed(f"timing {task.name} on the base side: {error} (log: "
                         f"{logs / 'timing-base.log'})") from None


def _pairs(base: Worker, change: Worker, operation: str, count: int, name: str,
           logs: Path) -> tuple[list[float], list[float]]:
    """``count`` pairs, the base first in even pairs and the change first in odd ones."""
    first, second = [], []
    for index in range(count):
        if index % 2 == 0:
            first.append(_base_sample(base, operation, name, logs))
            second.append(change.ask({"op": operation}))
        else:
            second.append(change.ask({"op": operation}))
            first.append(_base_sample(base, operation, name, logs))
    return first, second


def _base_sample(base: Worker, operation: str, name: str, logs: Path) -> float:
    try:
        return base.ask({"op": operation})
    except WorkerError as error:
        raise BaseFailed(f"timing {name} on the base side: {error} (log: "
                         f"{logs / 'timing-base.log'})") from None
