"""The timing pairs of ``regress --against``: real worker processes on a real run's bundle;
a pair whose change worker exited takes no task, the other pairs time them all, slowest first.
Slow: each test starts four worker processes (CI's ``pytest -m slow`` step)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.config.compose import compose_spec
from engine.data.sources import load_dataset
from engine.experiment import RunResult
from engine.regress.base_env import SideEnvironment
from engine.regress.interleaved import TimingTask, WorkerPair, time_interleaved, worker_pairs
from tests.conftest import REPO

QUICK = ("dataset=iris", "model=logistic_regression", "split.cv.n_splits=2", "report=false",
         "metrics.bootstrap.resamples=0", "metrics.explain.importance_repeats=0")
REPEATS = {"fit_repeats": 2, "predict_repeats": 4}
pytestmark = pytest.mark.slow


@pytest.fixture
def tasks(run: Callable[..., RunResult], tmp_path: Path) -> list[TimingTask]:
    """Three tasks on one iris run, its rows written as the against job writes them."""
    run_dir = run(*QUICK).run_dir
    spec = compose_spec(list(QUICK))
    dataset = load_dataset(spec.dataset, seed=spec.seed)
    features, target = tmp_path / "X.parquet", tmp_path / "y.parquet"
    dataset.X.to_parquet(features)
    dataset.y.to_frame("target").to_parquet(target)
    return [TimingTask(f"task{number}", features, target, dataset.X.shape, run_dir, run_dir,
                       ("fit_seconds", "predict_ms"), fit_seconds=number)
            for number in range(3)]


@pytest.fixture
def pairs(tmp_path: Path) -> Iterator[list[WorkerPair]]:
    side = SideEnvironment(sys.executable, REPO, "this environment")
    with worker_pairs(2, side, side, tmp_path / "logs") as started:
        yield started


def stop_change_worker(pair: WorkerPair) -> None:
    pair.change.process.kill()
    pair.change.process.wait()


def test_the_pairs_time_every_task_from_one_queue(tasks: list[TimingTask],
                                                  pairs: list[WorkerPair]) -> None:
    timed = time_interleaved(tasks, REPEATS, pairs, lambda name: None)
    assert list(timed) == ["task0", "task1", "task2"]
    for paired in timed.values():
        assert paired.error is None
        assert len(paired.base["fit_seconds"]) == len(paired.change["fit_seconds"]) == 2
        assert len(paired.base["predict_ms"]) == len(paired.change["predict_ms"]) == 4


def test_a_pair_whose_change_worker_exited_leaves_its_tasks_to_the_others(
        tasks: list[TimingTask], pairs: list[WorkerPair]) -> None:
    stop_change_worker(pairs[0])
    seen: list[str] = []
    timed = time_interleaved(tasks, REPEATS, pairs, seen.append)
    assert all(paired.error is None for paired in timed.values())
    assert seen == ["task2", "task1", "task0"]  # one pair left: the slowest fits first


def test_with_every_change_worker_gone_each_task_says_so(tasks: list[TimingTask],
                                                         pairs: list[WorkerPair]) -> None:
    for pair in pairs:
        stop_change_worker(pair)
    timed = time_interleaved(tasks, REPEATS, pairs, lambda name: None)
    logs = pairs[0].change_log.parent
    assert [paired.error for paired in timed.values()] == [
        f"timing failed: every change-side timing worker exited (logs: {logs})"] * 3


def test_no_task_asks_nothing(pairs: list[WorkerPair]) -> None:
    assert time_interleaved([], REPEATS, pairs, lambda name: None) == {}
