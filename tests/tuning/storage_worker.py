"""One tuning worker for tests/tuning/test_storage.py: joins a shared study and runs trials.

    python storage_worker.py STORAGE STUDY_NAME STUDIES_DIR N_TRIALS READY_DIR WORKERS

``STORAGE`` is ``tune.storage`` (``journal`` or a database URL). The workers meet in ``READY_DIR``
twice, so that they open the storage at the same moment and then run their trials at the same
time; each runs ``N_TRIALS`` trials and prints the numbers and values of the trials it ran (JSON).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import optuna

from engine.tuning.storage import open_storage

TRIAL_SECONDS = 0.01
READY_TIMEOUT = 60.0


def main(storage: str, study_name: str, studies_dir: str, n_trials: str, ready_dir: str,
         workers: str) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    wait_for_everyone(Path(ready_dir) / "start", int(workers))
    study = optuna.create_study(
        storage=open_storage(storage, study_name, Path(studies_dir)),
        study_name=study_name,
        sampler=optuna.samplers.RandomSampler(seed=os.getpid()),
        load_if_exists=True,
    )
    wait_for_everyone(Path(ready_dir) / "opened", int(workers))
    ran: dict[int, float] = {}
    study.optimize(lambda trial: objective(trial, ran), n_trials=int(n_trials))
    print(json.dumps(ran))


def objective(trial: optuna.Trial, ran: dict[int, float]) -> float:
    """A quick objective that records which trial numbers this process ran."""
    value = trial.suggest_float("x", -1.0, 1.0) ** 2
    time.sleep(TRIAL_SECONDS)
    ran[trial.number] = value
    return value


def wait_for_everyone(ready_dir: Path, workers: int) -> None:
    """A barrier across processes: one file per ready worker."""
    ready_dir.mkdir(parents=True, exist_ok=True)
    (ready_dir / str(os.getpid())).touch()
    deadline = time.monotonic() + READY_TIMEOUT
    while len(list(ready_dir.iterdir())) < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"the other workers were not ready within {READY_TIMEOUT} s")
        time.sleep(0.01)


if __name__ == "__main__":
    main(*sys.argv[1:])
