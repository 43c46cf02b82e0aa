"""One thread budget for the machine: worker processes times threads per process fit its cores.

``n_jobs`` (CV workers), ``tune.n_jobs`` (Optuna workers) and each model's own threads (OpenMP in
HistGradientBoosting, BLAS, PyTorch's intra-op threads) share the cores this process may use:
its CPU affinity, capped by the cgroup CPU quota (a container's ``--cpus``), never
``os.cpu_count()``. Each of ``workers`` concurrent processes gets ``cores // workers`` threads,
and a fit too small for threads to pay gets one::

    threads = threads_per_process(workers, work=rows * columns)
    with limited_threads(threads):              # BLAS and OpenMP (torch's too) in this process
        ...fit...
    with worker_threads(threads):               # joblib's (scikit-learn's) worker processes
        cross_validate(..., n_jobs=workers)
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")

SMALL_FIT_CELLS = 50_000
"""A fit on fewer training cells (rows x columns) than this gets one thread.

Measured on a 2-core machine, 30 features, hist_gbm (100 iterations), best of 5 fits with one
and with two threads, interleaved: two threads were 1.08x faster at 500 rows, 1.24x at 2,000,
1.38x at 10,000 and 1.76x at 100,000. Below about 1,500 rows x 30 columns the gain is under
1.2x, while a busy machine makes the threads cost far more than that (the default run on
breast_cancer: 3.3x slower loaded with two threads, 1.6x with one)."""

SMALL_STEP_WORK = 100_000_000
"""A PyTorch fit whose step does less work than this (rows per batch x the module's parameters)
trains on one thread.

Measured on a 2-core machine, 30 features, best of 4-5 fits each way, interleaved: the default
MLP (width 256, batch 256: 19M per step) was 0.95-1.11x as fast with two threads as with one,
from 500 to 20,000 rows, on a quiet machine. On one busy with other work (load average 8), two
threads were 11x slower than one at 19M per step, 7.6x at 143M (width and batch 512) and 3.3x
at 1,109M (1024), and ``model=mlp`` on breast_cancer took 140 s under cpu_load.py against 12 s
with one thread. Where above 19M threads start to pay on a quiet machine was not measured (it
was busy); 100M keeps every default-sized MLP on one thread."""

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
"""The environment variables that size a new process's BLAS and OpenMP pools."""

_LIMIT: ContextVar[int | None] = ContextVar("engine_thread_limit", default=None)


def available_cores(cgroup_root: Path = CGROUP_ROOT) -> int:
    """Cores this process may use: its CPU affinity, capped by the cgroup's CPU quota.

    ``joblib.cpu_count()`` counts the same way (a test checks they agree), but reads fixed
    paths; this one takes the cgroup root so that a test can point it at a folder of its own.
    """
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    quota = cgroup_quota(cgroup_root)
    return max(1, min(cores, quota) if quota is not None else cores)


def cgroup_quota(root: Path) -> int | None:
    """Cores the cgroup's CPU bandwidth quota allows, rounded up as joblib does; None when
    there is no quota.

    cgroup v2: ``root/cpu.max`` holds "max 100000" (none) or "150000 100000" (1.5 cores: 2).
    cgroup v1: ``root/cpu/cpu.cfs_quota_us`` (-1: none) over ``root/cpu/cpu.cfs_period_us``.
    """
    v2 = root / "cpu.max"
    if v2.is_file():
        quota, _, period = v2.read_text().strip().partition(" ")
    else:
        v1 = root / "cpu"
        if not (v1 / "cpu.cfs_quota_us").is_file() or not (v1 / "cpu.cfs_period_us").is_file():
            return None
        quota = (v1 / "cpu.cfs_quota_us").read_text().strip()
        period = (v1 / "cpu.cfs_period_us").read_text().strip()
    if quota == "max" or not quota.lstrip("-").isdigit() or not period.isdigit():
        return None
    if int(quota) <= 0 or int(period) <= 0:
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def worker_processes(n_jobs: int) -> int:
    """``n_jobs`` as a count of processes: -1 is every available core."""
    return available_cores() if n_jobs == -1 else n_jobs


def thread_limit() -> int:
    """Threads this process may use now: the innermost :func:`limited_threads`' count; else
    ``OMP_NUM_THREADS`` (a user's setting, or joblib's in its workers) up to the available
    cores; else the available cores."""
    limit = _LIMIT.get()
    if limit is not None:
        return limit
    cores = available_cores()
    setting = os.environ.get("OMP_NUM_THREADS", "").strip()
    return min(int(setting), cores) if setting.isdigit() and int(setting) > 0 else cores


def threads_per_process(workers: int = 1, *, work: int | None = None,
                        small: int = SMALL_FIT_CELLS) -> int:
    """Threads for each of ``workers`` concurrent processes sharing :func:`thread_limit`:
    ``max(1, limit // workers)``, or 1 when the fit's ``work`` is below ``small``.

    ``threads_per_process(2)`` on 8 free cores is 4; ``threads_per_process(work=455 * 30)`` is 1.
    """
    if work is not None and work < small:
        return 1
    return max(1, thread_limit() // max(1, workers))


@contextmanager
def limited_threads(threads: int) -> Iterator[int]:
    """BLAS and OpenMP pools in this process (PyTorch's OpenMP pool among them) use at most
    ``threads`` threads inside the block; :func:`thread_limit` says ``threads`` there."""
    from threadpoolctl import threadpool_limits

    token = _LIMIT.set(threads)
    try:
        with threadpool_limits(threads):
            yield threads
    finally:
        _LIMIT.reset(token)


def worker_threads(threads: int) -> AbstractContextManager[object]:
    """joblib's worker processes started inside the block (scikit-learn's ``n_jobs``) get
    ``threads`` BLAS/OpenMP threads each: loky sets ``OMP_NUM_THREADS`` and its kin for them."""
    from joblib import parallel_config

    return parallel_config(backend="loky", inner_max_num_threads=threads)


@contextmanager
def torch_threads(threads: int) -> Iterator[int]:
    """PyTorch's intra-op threads set to ``threads`` inside the block, restored after.

    Inter-op threads are left alone: PyTorch allows setting them once, before any inter-op work,
    and raises after; a model's forward and backward passes run on intra-op threads.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)
