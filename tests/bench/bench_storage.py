"""Per-trial cost of the study storage: 1,000 trials of a trivial objective, in one process.

    python tests/bench/bench_storage.py [N_TRIALS]

In-memory (the baseline), the journal file and the SQLite file exactly as
``engine.tuning.storage.open_storage`` makes them, and PostgreSQL when tests/postgres.py can start
a throw-away server. The objective is one ``suggest_float`` with a seeded RandomSampler, so the
storage is nearly all that is timed. Printed: ms per trial over all trials and over the last 100
(does the cost grow with the study?), each also above in-memory. Target for the default storage
(the journal file): <= 10 ms per trial above in-memory at 1,000 trials.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from types import ModuleType

import optuna
from common import REPO

from engine.tuning.storage import open_storage

N_TRIALS = 1000
TAIL = 100
TARGET_MS = 10.0


def load_postgres_module() -> ModuleType:
    """tests/postgres.py by its path: benchmarks run as scripts, with no ``tests`` package."""
    spec = importlib.util.spec_from_file_location("engine_test_postgres", REPO / "tests" /
                                                  "postgres.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def trial_seconds(storage: optuna.storages.BaseStorage | str | None, n_trials: int) -> list[float]:
    """Wall seconds of each trial of a fresh study, ask to tell, storage work included."""
    study = optuna.create_study(storage=storage, study_name="bench",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    ends = [time.perf_counter()]
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=n_trials,
                   callbacks=[lambda _study, _trial: ends.append(time.perf_counter())])
    if len(study.trials) != n_trials:
        raise SystemExit(f"expected {n_trials} trials, the storage holds {len(study.trials)}")
    return [later - earlier for earlier, later in itertools.pairwise(ends)]


def backends(studies: Path) -> Iterator[tuple[str, Callable[[], AbstractContextManager]]]:
    """(name, a context giving the storage) for every storage to time, in-memory first."""
    yield "in-memory", lambda: nullcontext(None)
    yield "journal file (default)", lambda: nullcontext(open_storage(None, "bench", studies))
    yield "SQLite file", lambda: nullcontext(open_storage("sqlite", "bench", studies))
    postgres = load_postgres_module()
    missing = postgres.postgres_missing()
    if missing:
        print(f"PostgreSQL: not timed, {missing}")
        return
    yield "PostgreSQL (local server)", lambda: postgres_storage(postgres)


@contextmanager
def postgres_storage(postgres: ModuleType) -> Iterator[optuna.storages.BaseStorage]:
    """A throw-away PostgreSQL server and the storage open_storage makes for it."""
    with postgres.postgres_server() as url:
        yield open_storage(url, "bench", Path("."))


def ms(seconds: list[float]) -> float:
    return 1000 * sum(seconds) / len(seconds)


def main(n_trials: int = N_TRIALS) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    print(f"{n_trials} trials, one suggest_float, RandomSampler(seed=0); ms per trial")
    print(f"  {'storage':<28}{'all':>8}{'above':>8}{'last ' + str(TAIL):>10}{'above':>8}")
    with tempfile.TemporaryDirectory() as studies:
        baseline: list[float] = []
        for name, opened in backends(Path(studies)):
            with opened() as storage:
                seconds = trial_seconds(storage, n_trials)
            baseline = baseline or seconds
            report(name, seconds, baseline)


def report(name: str, seconds: list[float], baseline: list[float]) -> None:
    """One line: ms per trial over all and the last TAIL trials, and each above in-memory."""
    whole, tail = ms(seconds), ms(seconds[-TAIL:])
    above, tail_above = whole - ms(baseline), tail - ms(baseline[-TAIL:])
    print(f"  {name:<28}{whole:>8.2f}{above:>8.2f}{tail:>10.2f}{tail_above:>8.2f}")
    if name.startswith("journal"):
        verdict = "meets" if above <= TARGET_MS else "MISSES"
        print(f"  {'':<28}({verdict} the target: <= {TARGET_MS:.0f} ms per trial above in-memory)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else N_TRIALS)
