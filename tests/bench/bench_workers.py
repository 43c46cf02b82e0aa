"""Workers on one PostgreSQL study: trials per second with 1 and 2 ``engine worker`` processes
on a CPU-bound search, and the storage's own cost per trial.

    python tests/bench/bench_workers.py [--trials 16] [--rounds 2] [--workers 2]

A throw-away PostgreSQL server (tests/postgres.py); each measurement is a fresh database and a
study of ``--trials`` random-forest trials on breast_cancer (3 folds, one thread per worker:
scikit-learn's forest is single-threaded unless asked), run by 1 worker, then by ``--workers``
started together, alternating for ``--rounds``. Throughput comes from the study's own trial
timestamps (first start to last completion), so the workers' start-up is left out; each
worker's wall time is printed too, and the workers' CPU seconds per trial (start-up
included): equal for 1 and 2 workers means a second worker costs nothing but a core. Target on
this 2-core machine: 2 workers >= 1.7x one.

The storage's cost per trial: 200 trials of a trivial objective through the same RDBStorage
(heartbeat on), ms per trial. With T the mean trial seconds of one worker and o the storage's
seconds per trial, N workers on N machines complete trials about N x as fast while N x o stays
well below T (the database serialises at most o per trial): the printed bound is T / o.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import statistics
import subprocess
import time
import uuid
from types import ModuleType

import optuna
from common import REPO, engine_command

from engine.tuning.storage import open_storage

EXPERIMENT = ("tune=random", "tune.pruner=none", "model=random_forest", "split.cv.n_splits=3",
              "model.search_space.n_estimators.low=100", "model.search_space.n_estimators.high=200")
STORAGE_TRIALS = 200


def load_postgres_module() -> ModuleType:
    """tests/postgres.py by its path: benchmarks run as scripts, with no ``tests`` package."""
    spec = importlib.util.spec_from_file_location("engine_test_postgres",
                                                  REPO / "tests" / "postgres.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_study(url: str, workers: int, trials: int) -> tuple[float, float, float, list[float]]:
    """``workers`` processes on a new study: (trials per second from the study's timestamps,
    mean seconds per trial, the workers' CPU seconds per trial, each worker's wall seconds)."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    command = engine_command("worker", "--study", name, "--storage", url, *EXPERIMENT,
                             f"tune.n_trials={trials}")
    cpu_before = _children_cpu_seconds()
    started = time.perf_counter()
    # Each worker in its own session, as on its own machine: Linux's autogroup scheduling gives
    # a session, not a process, its share of a busy machine's cores.
    processes = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
                 for _ in range(workers)]
    walls = []
    for process in processes:
        _, err = process.communicate()
        walls.append(time.perf_counter() - started)
        if process.returncode != 0:
            raise SystemExit(f"a worker failed:\n{err}")
    study = optuna.load_study(study_name=name, storage=url)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    first = min(t.datetime_start for t in done)
    last = max(t.datetime_complete for t in done)
    span = (last - first).total_seconds()
    per_trial = statistics.mean((t.datetime_complete - t.datetime_start).total_seconds()
                                for t in done)
    cpu = (_children_cpu_seconds() - cpu_before) / len(done)
    return len(done) / span, per_trial, cpu, walls


def _children_cpu_seconds() -> float:
    """User and system CPU seconds of this process's finished children (start-up included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def storage_ms_per_trial(url: str) -> float:
    """Milliseconds per trial of a trivial objective through the engine's RDBStorage."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(url, "storage_cost", REPO / "outputs" / "studies")
    study = optuna.create_study(study_name="storage_cost", storage=storage,
                                sampler=optuna.samplers.RandomSampler(seed=0))
    started = time.perf_counter()
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=STORAGE_TRIALS)
    return (time.perf_counter() - started) * 1000 / STORAGE_TRIALS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    postgres = load_postgres_module()
    print(f"cores: {len(os.sched_getaffinity(0))}; {options.trials} trials per study; "
          f"load average {os.getloadavg()[0]:.1f}")
    rates: dict[int, list[float]] = {1: [], options.workers: []}
    trial_seconds: list[float] = []
    with postgres.postgres_server() as server:
        for round_number in range(options.rounds):
            for workers in (1, options.workers):
                url = postgres.create_database(server, f"r{round_number}_w{workers}")
                rate, per_trial, cpu, walls = run_study(url, workers, options.trials)
                rates[workers].append(rate)
                if workers == 1:
                    trial_seconds.append(per_trial)
                print(f"  round {round_number + 1}, {workers} worker(s): {rate:.3f} trials/s, "
                      f"{per_trial:.2f} s per trial ({cpu:.2f} CPU s), wall "
                      f"{', '.join(f'{w:.1f}' for w in walls)} s (start-up included)")
        storage_ms = storage_ms_per_trial(postgres.create_database(server, "storage_cost"))
    one, many = statistics.median(rates[1]), statistics.median(rates[options.workers])
    mean_trial = statistics.mean(trial_seconds)
    print(f"{options.workers} workers vs 1: {many / one:.2f}x trials per second (median of "
          f"{options.rounds}; target >= 1.7x on 2 cores)")
    print(f"storage: {storage_ms:.1f} ms per trial (trivial objective, {STORAGE_TRIALS} trials); "
          f"one worker's trial takes {mean_trial:.2f} s, so the storage is "
          f"{storage_ms / 1000 / mean_trial:.2%} of a trial")
    print(f"expected on N machines (one worker each): about N x as fast while N stays well "
          f"below T / o = {mean_trial / (storage_ms / 1000):.0f}")


if __name__ == "__main__":
    main()
