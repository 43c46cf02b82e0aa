"""Timing both sides interleaved: one long-lived worker process per side (imports and loading
are paid once, never timed), asked in turn, ABBA by pairs, so that both see the same load and
a drift in the machine's speed falls on both alike."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from engine.regress.base_env import SideEnvironment
from engine.regress.base_failure import BaseFailed
from engine.threads import threads_per_process

WORKER = Path(__file__).with_name("timing_worker.py")
REPEATS_OF = {"fit_seconds": "fit_repeats", "predict_ms": "predict_repeats"}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
OPERATION = {"fit_seconds": "fit", "predict_ms": "predict"}


@dataclass(frozen=True)
class TimingTask:
    """What to time for one experiment: its training rows (features and target, Parquet) and
    their shape (rows, columns), each side's run and the guarded keys."""

    name: str
    features: Path
    target: Path
    shape: tuple[int, int]
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
    """A side's timing worker process; its stderr goes to ``log``. Its BLAS, OpenMP and
    PyTorch pools get ``threads`` threads: the pairs running at once share the cores instead of
    oversubscribing them (OpenMP's spinning threads then slow both sides many times over)."""

    def __init__(self, environment: SideEnvironment, log: IO[str], threads: int) -> None:
        limits = dict.fromkeys(THREAD_VARIABLES, str(threads))
        self.process = subprocess.Popen(
            [environment.python, "-P", str(WORKER)], cwd=environment.tree,
            env={**environment.environ(), **limits}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)

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


@dataclass(frozen=True)
class WorkerPair:
    """A base worker and a change worker, asked in turn; ``logs`` holds each one's stderr."""

    base: Worker
    change: Worker
    base_log: Path
    change_log: Path


@contextmanager
def worker_pairs(count: int, base: SideEnvironment, change: SideEnvironment,
                 logs: Path) -> Iterator[list[WorkerPair]]:
    """``count`` pairs of workers, stopped when the block ends."""
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        pairs = []
        for number in range(count):
            started = {}
            for side, environment in (("base", base), ("change", change)):
                path = logs / f"timing-{side}-{number}.log"
                worker = Worker(environment, stack.enter_context(path.open("w")),
                                threads_per_process(count))
                stack.callback(worker.close)
                started[side] = (worker, path)
            pairs.append(WorkerPair(started["base"][0], started["change"][0],
                                    started["base"][1], started["change"][1]))
        yield pairs


def time_interleaved(tasks: list[TimingTask], repeats: dict[str, int], *, base: SideEnvironment,
                     change: SideEnvironment, logs: Path, jobs: int,
                     on_done: Callable[[str], None]) -> dict[str, PairedTimings]:
    """Paired samples of every task's keys, ``jobs`` pairs of workers at a time (each pair
    times its share of the tasks; pairs running at once load both sides alike); the base
    failing raises BaseFailed."""
    count = max(1, min(jobs, len(tasks)))
    with worker_pairs(count, base, change, logs) as pairs, ThreadPoolExecutor(count) as pool:
        shares = [pool.submit(_time_share, tasks[number::count], repeats, pair, count, on_done)
                  for number, pair in enumerate(pairs)]
        timed = {name: paired for share in shares for name, paired in share.result().items()}
    return {task.name: timed[task.name] for task in tasks}


def _time_share(tasks: list[TimingTask], repeats: dict[str, int], pair: WorkerPair,
                workers: int, on_done: Callable[[str], None]) -> dict[str, PairedTimings]:
    timed: dict[str, PairedTimings] = {}
    for task in tasks:
        timed[task.name] = paired = PairedTimings()
        try:
            _base_answer(pair, task.name, _load_request(task, task.base_run, workers))
            pair.change.ask(_load_request(task, task.change_run, workers))
            for key in task.keys:
                paired.base[key], paired.change[key] = _pairs(
                    pair, {"op": OPERATION[key]}, repeats[REPEATS_OF[key]], task.name)
        except WorkerError as error:
            paired.error = f"timing failed: {error} (log: {pair.change_log})"
        on_done(task.name)
    return timed


def _load_request(task: TimingTask, run_dir: Path, workers: int) -> dict[str, Any]:
    """Load ``run_dir`` to time ``task``; its fit and one-row prediction get the threads the
    engine gives them, ``workers`` pairs sharing the cores."""
    rows, columns = task.shape
    return {"op": "load", "run_dir": str(run_dir), "features": str(task.features),
            "target": str(task.target),
            "fit_threads": threads_per_process(workers, work=rows * columns),
            "predict_threads": threads_per_process(workers, work=columns)}


def _pairs(pair: WorkerPair, request: dict[str, Any], count: int,
           name: str) -> tuple[list[float], list[float]]:
    """``count`` pairs, the base first in even pairs and the change first in odd ones."""
    first, second = [], []
    for index in range(count):
        if index % 2 == 0:
            first.append(_base_answer(pair, name, request))
            second.append(pair.change.ask(request))
        else:
            second.append(pair.change.ask(request))
            first.append(_base_answer(pair, name, request))
    return first, second


def _base_answer(pair: WorkerPair, name: str, request: dict[str, Any]) -> float:
    """The base worker's answer; its error is the base failing, not the change."""
    try:
        return pair.base.ask(request)
    except WorkerError as error:
        raise BaseFailed(f"timing {name} on the base side: {error} (log: "
                         f"{pair.base_log})") from None
