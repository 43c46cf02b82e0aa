"""``python -m engine runs`` over 1,000 run directories: list and sort in at most 1 s.

    python tests/bench/bench_runs_index.py [N_RUNS]

One real run is trained (logistic_regression on breast_cancer), then its run.json and
metrics.json are copied into N_RUNS directories (a fifth under runs/, the rest as the jobs of
sweeps under multiruns/) with other datasets, models and scores (tests/tracking/run_copies.py).
Printed: the median of 5 whole processes of ``runs --sort roc_auc --limit 20`` (interpreter
start-up included) without the index's cache (the first listing) and with it (later ones),
and of 5 in-process index-and-sort calls of each kind.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from common import REPO, engine_command, median_of, timed_process
from rich.console import Console

from engine.config.compose import compose_spec
from engine.experiment import run_experiment
from engine.tracking.run_index import CACHE_FILE, index_runs
from engine.tracking.runs_command import sort_runs

N_RUNS = 1000
JOBS_PER_SWEEP = 20
REPEATS = 5
TARGET_SECONDS = 1.0
DATASETS = ("adult", "breast_cancer", "german_credit", "titanic", "wine")
MODELS = ("hist_gbm", "random_forest", "logistic_regression", "svm", "extra_trees", "mlp")


def load_run_copies() -> ModuleType:
    """tests/tracking/run_copies.py by its path: benchmarks run as scripts, with no package."""
    spec = importlib.util.spec_from_file_location(
        "engine_run_copies", REPO / "tests" / "tracking" / "run_copies.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_runs(root: Path, n_runs: int) -> None:
    """One real run in ``root/seed``, copied into ``n_runs`` run directories under ``root``."""
    real = root / "seed" / "runs" / "real"
    real.mkdir(parents=True)
    spec = compose_spec(["model=logistic_regression", "split.cv.n_splits=3", "report=false"])
    run_experiment(spec, real, project_dir=REPO, console=Console(quiet=True))
    copy_run = load_run_copies().copy_run
    draw = random.Random(0)
    outputs = root / "outputs"
    for number in range(n_runs):
        folder = (outputs / "runs" / f"run-{number:04d}" if number < n_runs // 5 else
                  outputs / "multiruns" / f"sweep-{number // JOBS_PER_SWEEP:03d}"
                  / str(number % JOBS_PER_SWEEP))
        copy_run(real, folder, dataset=draw.choice(DATASETS), model=draw.choice(MODELS),
                 shift=draw.uniform(-0.1, 0.0))


def in_process_seconds(outputs: Path, *, cold: bool) -> float:
    """Seconds to index and sort in this process; ``cold``: without the index's cache."""
    if cold:
        (outputs / CACHE_FILE).unlink(missing_ok=True)
    started = time.perf_counter()
    rows = sort_runs(index_runs(outputs), "roc_auc")[:20]
    assert len(rows) == 20
    return time.perf_counter() - started


def main(n_runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as scratch:
        root = Path(scratch)
        make_runs(root, n_runs)
        outputs = root / "outputs"
        command = engine_command("runs", "--dir", str(outputs), "--sort", "roc_auc", "--limit",
                                 "20")
        cold = [timed_process(command)]
        warm = [timed_process(command) for _ in range(REPEATS)]
        for _ in range(REPEATS - 1):
            (outputs / CACHE_FILE).unlink()
            cold.append(timed_process(command))
        in_process = {state: [in_process_seconds(outputs, cold=state == "cold")
                              for _ in range(REPEATS)] for state in ("cold", "warm")}
    print(f"{n_runs} run directories, median of {REPEATS}, load average "
          f"{os.getloadavg()[0]:.1f}:")
    for state, seconds in (("first listing (no cache)", cold), ("later listings", warm)):
        print(f"  python -m engine runs --sort roc_auc --limit 20, {state}: "
              f"{median_of(seconds):.2f} s (target <= {TARGET_SECONDS:.0f} s) "
              f"[{', '.join(f'{s:.2f}' for s in seconds)}]")
    for state, seconds in in_process.items():
        print(f"  index and sort in process, {state}: {median_of(seconds):.3f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else N_RUNS)
