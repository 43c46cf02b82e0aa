"""Timing both sides interleaved: one long-lived worker process per side (imports and loading
are paid once, never timed), asked in turn, ABBA by pairs, so that both see the same load and
a drift in the machine's speed falls on both alike. The pairs take the experiments from one
queue, the slowest fits first, so that no pair sits idle while the other still has a long one."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from engine.regress.base_env import SideEnvironment
from engine.regress.base_failure import BaseFailed
from engine.threads import THREAD_VARIABLES, threads_per_process

WORKER = Path(__file__).with_name("timing_worker.py")
REPEATS_OF = {"fit_seconds": "fit_repeats", "predict_ms": "predict_repeats"}
OPERATION = {"fit_seconds": "fit", "predict_ms": "predict"}


@dataclass(frozen=True)
class TimingTask:
    """What to time for one experiment: its training rows (features and target, Parquet) and
    their shape (rows, columns), each side's run, the guarded keys, and the seconds the change's
    run took to fit (which experiments to start first)."""

    name: str
    features: Path
    target: Path
    shape: tuple[int, int]
    base_run: Path
    change_run: Path
    keys: tuple[str, ...]
    fit_seconds: float = 0.0


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

    def finish(self) -> None:
        """Ask nothing more: the worker exits (:meth:`wait` for it). One that died already
        leaves an unsent request behind, which closing stdin tries to send again."""
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()

    @property
    def exited(self) -> bool:
        return self.process.poll() is not None

    def wait(self) -> None:
        self.process.wait()


def _stop(workers: list[Worker]) -> None:
    """Stop every worker: all told first, then waited for, so that they exit at once."""
    for worker in workers:
        worker.finish()
    for worker in workers:
        worker.wait()


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
    """``count`` pairs of workers, stopped when the block ends. They start importing what they
    time at once, so that started before the change's runs they are ready when those end."""
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        pairs: list[WorkerPair] = []
        workers: list[Worker] = []
        stack.callback(_stop, workers)
        for number in range(count):
            started = {}
            for side, environment in (("base", base), ("change", change)):
                path = logs / f"timing-{side}-{number}.log"
                worker = Worker(environment, stack.enter_context(path.open("w")),
                                threads_per_process(count))
                workers.append(worker)
                started[side] = (worker, path)
            pairs.append(WorkerPair(started["base"][0], started["change"][0],
                                    started["base"][1], started["change"][1]))
        yield pairs


def time_interleaved(tasks: list[TimingTask], repeats: dict[str, int], pairs: list[WorkerPair],
                     on_done: Callable[[str], None]) -> dict[str, PairedTimings]:
    """Paired samples of every task's keys, as many of the ``pairs`` of workers at once as
    there are tasks (each pair takes the next task, the slowest fits first; pairs running at
    once load both sides alike). A pair whose change worker exited takes no more tasks; the
    base failing raises BaseFailed once the other pairs have finished their current task."""
    pairs = pairs[:len(tasks)]
    if not pairs:
        return {}
    waiting: queue.SimpleQueue[TimingTask] = queue.SimpleQueue()
    for task in sorted(tasks, key=lambda task: task.fit_seconds, reverse=True):
        waiting.put(task)
    with ThreadPoolExecutor(len(pairs)) as pool:
        shares = [pool.submit(_time_share, waiting, repeats, pair, len(pairs), on_done)
                  for pair in pairs]
        try:
            wait(shares, return_when=FIRST_EXCEPTION)
            timed = {name: paired for share in shares for name, paired in share.result().items()}
        except BaseException:
            _empty(waiting)
            raise
    left = PairedTimings(error="timing failed: every change-side timing worker exited (logs: "
                               f"{pairs[0].change_log.parent})")
    return {task.name: timed.get(task.name, left) for task in tasks}


def _empty(waiting: queue.SimpleQueue[TimingTask]) -> None:
    """Take every task left, so that the pairs still timing stop after their current one."""
    with contextlib.suppress(queue.Empty):
        while True:
            waiting.get_nowait()


def _time_share(waiting: queue.SimpleQueue[TimingTask], repeats: dict[str, int],
                pair: WorkerPair, workers: int,
                on_done: Callable[[str], None]) -> dict[str, PairedTimings]:
    """Time the tasks ``pair`` takes from ``waiting`` until none is left, or until its change
    worker has exited (the other pairs time the rest)."""
    timed: dict[str, PairedTimings] = {}
    while not pair.change.exited:
        try:
            task = waiting.get_nowait()
        except queue.Empty:
            return timed
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
