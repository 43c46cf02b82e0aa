"""The thread budget: cores from affinity and cgroup quota, the arithmetic, and the limits a run's
fits actually see (in the main process and in CV worker processes) and a PyTorch fit's threads."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_info

from engine.experiment import RunResult
from engine.models.torch import TorchClassifier
from engine.threads import (
    SMALL_FIT_CELLS,
    THREAD_VARIABLES,
    available_cores,
    cgroup_quota,
    limited_threads,
    thread_limit,
    threads_per_process,
    worker_processes,
)
from tests.torch.nets import TwoLayerNet

AFFINITY = len(os.sched_getaffinity(0))
QUICK = ("allowed_targets=[tests.]", "model=dummy",
         "model._target_=tests.test_threads.ThreadRecorder", "metrics.bootstrap.resamples=0",
         "metrics.diagnostics.enabled=false", "metrics.explain.importance_repeats=0",
         "report=false")


@pytest.fixture(autouse=True)
def _the_machines_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests count threads against the machine's cores, not the share of them each test
    worker gets (tests/__init__.py)."""
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)


class ThreadRecorder(ClassifierMixin, BaseEstimator):
    """Predicts class priors; each fit appends its process id and the thread count of every
    BLAS/OpenMP pool loaded there to the file ``log`` (one JSON line), so that fits in worker
    processes are heard too."""

    def __init__(self, log: str = "") -> None:
        self.log = log

    def fit(self, X: Any, y: Any) -> ThreadRecorder:
        pools = sorted({pool["num_threads"] for pool in threadpool_info()})
        with open(self.log, "a") as log:
            log.write(json.dumps({"pid": os.getpid(), "threads": pools}) + "\n")
        self.classes_, counts = np.unique(y, return_counts=True)
        self.priors_ = counts / counts.sum()
        self.n_features_in_ = np.shape(X)[1]
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.tile(self.priors_, (len(X), 1))

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def fits_seen(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(("files", "quota"), [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "150000 100000\n"}, 2),
    ({"cpu.max": "100000 100000\n"}, 1),
    ({"cpu.max": "20000 100000\n"}, 1),
    ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_cgroup_quota_is_read_from_v2_or_v1_files(tmp_path: Path, files: dict[str, str],
                                                  quota: int | None) -> None:
    root = cgroup(tmp_path, files)

    assert cgroup_quota(root) == quota
    assert available_cores(root) == (AFFINITY if quota is None else min(AFFINITY, quota))


def test_a_quota_of_one_core_caps_the_affinity(tmp_path: Path) -> None:
    assert available_cores(cgroup(tmp_path, {"cpu.max": "100000 100000"})) == 1


def test_cores_agree_with_joblibs_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOKY_MAX_CPU_COUNT", raising=False)

    assert available_cores() == joblib.cpu_count()


def test_n_jobs_minus_one_is_every_available_core() -> None:
    assert worker_processes(-1) == available_cores()
    assert worker_processes(3) == 3


def test_each_worker_gets_its_share_of_the_limit_and_small_fits_get_one() -> None:
    with limited_threads(8):
        assert [threads_per_process(workers) for workers in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
        assert threads_per_process(work=SMALL_FIT_CELLS - 1) == 1
        assert threads_per_process(work=SMALL_FIT_CELLS) == 8
        with limited_threads(2):
            assert thread_limit() == 2
        assert thread_limit() == 8


def test_the_limit_follows_omp_num_threads_up_to_the_cores(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert thread_limit() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "512")
    assert thread_limit() == available_cores()
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    assert thread_limit() == available_cores()


def test_limited_threads_sets_every_blas_and_openmp_pool_and_restores_them() -> None:
    before = [pool["num_threads"] for pool in threadpool_info()]
    with limited_threads(1):
        assert {pool["num_threads"] for pool in threadpool_info()} == {1}
    assert [pool["num_threads"] for pool in threadpool_info()] == before


def test_a_small_runs_fits_use_one_thread(run: Callable[..., RunResult], tmp_path: Path) -> None:
    log = tmp_path / "fits.jsonl"
    run("dataset=breast_cancer", *QUICK, f"+model.log={log}")  # 455 rows x 30 columns

    fits = fits_seen(log)
    assert len(fits) >= 6  # the features check, 5 folds, the final fit
    assert all(fit["threads"] == [1] for fit in fits)


@pytest.mark.slow
@pytest.mark.skipif(AFFINITY < 2, reason="one core: every budget is one thread")
def test_cv_workers_share_the_cores_and_the_final_fit_has_them_all(
        run: Callable[..., RunResult], tmp_path: Path) -> None:
    log = tmp_path / "fits.jsonl"
    cores = available_cores()
    run("dataset=synthetic_classification", "dataset.n_samples=5000", "split.cv.n_splits=2",
        "n_jobs=-1", *QUICK, f"+model.log={log}")  # 4,000 rows x 20 columns: threads pay

    fits = fits_seen(log)
    in_workers = [fit["threads"] for fit in fits if fit["pid"] != os.getpid()]
    here = [fit["threads"] for fit in fits if fit["pid"] == os.getpid()]
    assert in_workers == [[max(1, cores // 2)]] * 2
    assert here and all(threads == [cores] for threads in here)


def torch_threads_during_fit(**params: Any) -> list[int]:
    seen: list[int] = []
    X, y = np.random.default_rng(0).normal(size=(200, 4)), np.arange(200) % 2
    TorchClassifier(TwoLayerNet, max_epochs=2, patience=None, random_state=0,
                    epoch_callback=lambda epoch, loss: seen.append(torch.get_num_threads()),
                    **params).fit(X, y)
    return seen


@pytest.mark.skipif(AFFINITY < 2, reason="one core: every budget is one thread")
def test_a_small_torch_fit_trains_on_one_thread_and_restores_the_count() -> None:
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with limited_threads(2):
            assert torch_threads_during_fit() == [1, 1]
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


@pytest.mark.skipif(AFFINITY < 2, reason="one core: every budget is one thread")
def test_a_large_torch_fit_takes_the_processs_share_and_restores_the_count() -> None:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # 128 rows per batch x 840,002 parameters: 108M per step, where threads pay.
        seen = torch_threads_during_fit(batch_size=128, module__hidden=120_000)
        assert seen == [available_cores()] * 2
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


@pytest.mark.skipif(AFFINITY < 2, reason="one core: every budget is one thread")
def test_tuning_workers_share_the_cores(run: Callable[..., RunResult], tmp_path: Path) -> None:
    log = tmp_path / "fits.jsonl"
    run("dataset=synthetic_classification", "dataset.n_samples=5000", "split.cv.n_splits=2",
        "tune=random", "tune.n_trials=4", "tune.n_jobs=2", "tune.plots=false", *QUICK,
        f"+model.log={log}",
        f"++model.search_space={{log: {{type: categorical, choices: [{log}]}}}}")

    *trials, final = fits_seen(log)  # trial fits in whichever worker, then the final fit
    assert len(trials) >= 8
    assert all(fit["threads"] == [max(1, available_cores() // 2)] for fit in trials)
    assert final["threads"] == [available_cores()]
