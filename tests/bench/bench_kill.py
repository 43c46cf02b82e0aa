"""``kill -9`` at random points of a study, then the same command again: does every study end with
exactly ``--trials`` complete trials, and is everything left on disk readable?

    python tests/bench/bench_kill.py [--repeats 10] [--trials 100] [--storages journal sqlite
                                      postgresql] [--seed 0]

For each storage (the journal file, SQLite, and PostgreSQL when tests/postgres.py can start a
throw-away server), ``--repeats`` times: start a fresh named study of ``model=logistic_regression``
on the default dataset, ``kill -9`` it after a random time between 0 and one whole run's seconds
(measured first, uninterrupted), then rerun the same command to completion. Checked after each
rerun: exit status 0, the study's complete trials (exactly ``--trials``), the trials the rerun
re-queued, and every run.json and metrics.json under the outputs read back through
engine.tracking.records (a killed run has none: kill -9 leaves nothing to write one). Printed: a
table per storage.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import optuna
from common import EVALUATION_OFF, REPO, engine_command

from engine.errors import RecordError
from engine.tracking.records import METRICS_FILE, RUN_FILE, read_metrics, read_run
from engine.tuning.recovery import counted_trials
from engine.tuning.storage import open_storage

STORAGES = ("journal", "sqlite", "postgresql")
STUDY = ("model=logistic_regression", "tune=random", "split.cv.n_splits=3", "tune.plots=false",
         "tune.pruner=none", *EVALUATION_OFF)


@dataclass
class Outcome:
    """What the repeats on one storage left."""

    storage: str
    complete: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    kill_seconds: list[float] = field(default_factory=list)
    rerun_seconds: list[float] = field(default_factory=list)
    failed_reruns: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    records_read: int = 0
    killed_without_record: int = 0


def main() -> None:
    options = parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    chooser = random.Random(options.seed)
    print(f"kill -9 at a random point, then the same command again: {options.repeats} times per "
          f"storage, {options.trials}-trial studies of {' '.join(STUDY[:2])}")
    outcomes = []
    with tempfile.TemporaryDirectory() as scratch:
        for storage in options.storages:
            with storage_setting(storage) as setting:
                if setting is None:
                    continue
                outputs = Path(scratch) / storage
                outcomes.append(bench_storage(storage, setting, outputs, options, chooser))
    print_table(outcomes, options.trials)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="kills per storage (10)")
    parser.add_argument("--trials", type=int, default=100, help="tune.n_trials of each study")
    parser.add_argument("--storages", nargs="+", choices=STORAGES, default=list(STORAGES))
    parser.add_argument("--seed", type=int, default=0, help="seeds the kill times")
    return parser.parse_args()


@contextmanager
def storage_setting(storage: str) -> Iterator[str | None]:
    """``tune.storage`` for ``storage``; for PostgreSQL a throw-away server (None without one)."""
    if storage != "postgresql":
        yield storage
        return
    postgres = load_postgres_module()
    missing = postgres.postgres_missing()
    if missing:
        print(f"PostgreSQL: not benchmarked, {missing}")
        yield None
        return
    with postgres.postgres_server() as url:
        yield url


def load_postgres_module() -> ModuleType:
    """tests/postgres.py by its path: benchmarks run as scripts, with no ``tests`` package."""
    spec = importlib.util.spec_from_file_location("engine_test_postgres",
                                                  REPO / "tests" / "postgres.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_storage(storage: str, setting: str, outputs: Path, options: argparse.Namespace,
                  chooser: random.Random) -> Outcome:
    """One uninterrupted run (how long a whole run takes), then the kills and reruns."""
    outcome = Outcome(storage)
    whole, done = run_to_end(command(setting, f"whole-{storage}", options.trials), outputs)
    if done.returncode != 0:
        raise SystemExit(f"the uninterrupted run on {storage} failed:\n{done.stderr}")
    print(f"{storage}: one whole run takes {whole:.1f} s")
    for repeat in range(options.repeats):
        name = f"killed-{storage}-{repeat}"
        args = command(setting, name, options.trials)
        at = chooser.uniform(0, whole)
        kill_after(args, outputs, at)
        seconds, rerun = run_to_end(args, outputs)
        study = optuna.load_study(study_name=name,
                                  storage=open_storage(setting, name, outputs / "studies"))
        record_rerun(outcome, study, at, seconds, rerun)
        print(f"  kill {repeat + 1} at {at:.1f} s: rerun exit {rerun.returncode} in "
              f"{seconds:.1f} s, {outcome.complete[-1]} complete, "
              f"{outcome.requeued[-1]} re-queued")
    check_records(outputs, outcome)
    return outcome


def command(setting: str, name: str, trials: int) -> list[str]:
    return engine_command(*STUDY, f"tune.n_trials={trials}", f"tune.study_name={name}",
                          f"tune.storage={setting}")


def kill_after(args: list[str], outputs: Path, seconds: float) -> None:
    """Start ``args`` and ``kill -9`` it after ``seconds`` (unless it ended before)."""
    process = subprocess.Popen(args, cwd=REPO, env=environment(outputs),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()


def run_to_end(args: list[str], outputs: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, env=environment(outputs), capture_output=True,
                          text=True)
    return time.perf_counter() - started, done


def environment(outputs: Path) -> dict[str, str]:
    return {**os.environ, "ENGINE_OUTPUT_DIR": str(outputs)}


def record_rerun(outcome: Outcome, study: optuna.Study, at: float, seconds: float,
                 rerun: subprocess.CompletedProcess[str]) -> None:
    trials = study.get_trials(deepcopy=False)
    outcome.complete.append(sum(t.state.name == "COMPLETE" for t in trials))
    outcome.requeued.append(len(trials) - len(counted_trials(study))
                            - sum(t.state.name in ("RUNNING", "WAITING") for t in trials))
    outcome.kill_seconds.append(at)
    outcome.rerun_seconds.append(seconds)
    if rerun.returncode != 0:
        outcome.failed_reruns.append(rerun.stderr.strip().splitlines()[-1:][0]
                                     if rerun.stderr.strip() else f"exit {rerun.returncode}")


def check_records(outputs: Path, outcome: Outcome) -> None:
    """Read every run.json and metrics.json back; count run directories a kill left bare."""
    for run_dir in sorted((outputs / "runs").iterdir()):
        if not (run_dir / RUN_FILE).exists():
            outcome.killed_without_record += 1
            continue
        try:
            record = read_run(run_dir)
            outcome.records_read += 1
            if record.status == "ok" or (run_dir / METRICS_FILE).exists():
                read_metrics(run_dir)
                outcome.records_read += 1
        except RecordError as error:
            outcome.unreadable.append(str(error))


def print_table(outcomes: list[Outcome], trials: int) -> None:
    header = (f"{'storage':<12}{'kills':>6}{'reruns ok':>10}{'exactly ' + str(trials):>13}"
              f"{'re-queued':>10}{'records read':>13}{'unreadable':>11}{'bare dirs':>10}"
              f"{'rerun s (median/max)':>22}")
    print("\n" + header)
    for o in outcomes:
        exact = sum(n == trials for n in o.complete)
        rerun = f"{statistics.median(o.rerun_seconds):.1f}/{max(o.rerun_seconds):.1f}"
        print(f"{o.storage:<12}{len(o.complete):>6}{len(o.complete) - len(o.failed_reruns):>10}"
              f"{exact:>13}{sum(o.requeued):>10}{o.records_read:>13}{len(o.unreadable):>11}"
              f"{o.killed_without_record:>10}{rerun:>22}")
    for o in outcomes:
        for problem in (*o.failed_reruns, *o.unreadable):
            print(f"{o.storage}: {problem}")
        wrong = [n for n in o.complete if n != trials]
        if wrong:
            print(f"{o.storage}: complete trials after a rerun: {wrong} (expected {trials})")
    if any(o.failed_reruns or o.unreadable or any(n != trials for n in o.complete)
           for o in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
