"""Per-trial overhead of the engine's Optuna sweeper vs hydra-optuna-sweeper 1.3 (ours: lower).

hydra-optuna-sweeper pins optuna < 3, so it lives in a virtualenv of its own; make it once:

    python3 -m venv /tmp/hos_venv
    /tmp/hos_venv/bin/pip install hydra-optuna-sweeper==1.3.0 hydra-core==1.3.8

then, from the repository root, with nothing else running:

    python tests/bench/bench_sweeper.py --hos-python /tmp/hos_venv/bin/python [--trials 100]

(or set HOS_PYTHON). Both sweepers minimise (x - 2) ** 2 over x in [-10, 10] (tests/bench/
trivial_app, an instant objective), with the same sampler and seed, each trial one job with its
own directory, through Hydra's basic launcher. Seconds per trial = (wall time of N trials - wall
time of 1 trial) / (N - 1), so process start-up and imports are left out. Each keeps its study
where it does by default: ours in a journal file, hydra-optuna-sweeper in memory.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import REPO, median_of, timed_process

APP = REPO / "tests" / "bench" / "trivial_app" / "app.py"
SAMPLERS = ("random", "tpe")
REPEATS = 3
SEED = 0
SweepCommand = Callable[[str, str, int], list[str]]


def engine_sweep(python: str, sampler: str, n_trials: int) -> list[str]:
    """The engine's sweeper on the trivial app (its config found through hydra.searchpath)."""
    return [python, str(APP), "-m", "hydra/sweeper=optuna", "x=interval(-10,10)",
            f"hydra.sweeper.n_trials={n_trials}", f"hydra.sweeper.method={sampler}",
            f"hydra.sweeper.seed={SEED}", "hydra.sweeper.direction=minimize",
            f"hydra.searchpath=[file://{REPO / 'conf'}]"]


def hos_sweep(python: str, sampler: str, n_trials: int) -> list[str]:
    """hydra-optuna-sweeper 1.3 on the same app, one trial per batch like ours."""
    return [python, str(APP), "-m", "hydra/sweeper=optuna", "x=interval(-10,10)",
            f"hydra.sweeper.n_trials={n_trials}", f"hydra/sweeper/sampler={sampler}",
            f"hydra.sweeper.sampler.seed={SEED}", "hydra.sweeper.direction=minimize",
            "hydra.sweeper.n_jobs=1"]


def wall_seconds(command: list[str], env: dict[str, str], n_trials: int) -> float:
    """Median wall time of the sweep; checks it made one job directory per trial."""
    runs = []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as output_dir:
            runs.append(timed_process(command, {**env, "BENCH_OUTPUT_DIR": output_dir}))
            jobs = [p for p in (Path(output_dir) / "multirun").iterdir() if p.is_dir()]
            if len(jobs) != n_trials:
                raise SystemExit(f"{' '.join(command)} made {len(jobs)} jobs, not {n_trials}")
    return median_of(runs)


def per_trial(
    make: SweepCommand, python: str, sampler: str, env: dict[str, str], n_trials: int
) -> tuple[float, float]:
    """Seconds per trial past the first, and the whole sweep's wall time."""
    one = wall_seconds(make(python, sampler, 1), env, 1)
    many = wall_seconds(make(python, sampler, n_trials), env, n_trials)
    return (many - one) / (n_trials - 1), many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hos-python", default=os.environ.get("HOS_PYTHON"),
                        help="python of the virtualenv with hydra-optuna-sweeper 1.3")
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()
    if not args.hos_python:
        raise SystemExit("give --hos-python (or HOS_PYTHON); see this script's docstring")
    ours_env = {"PYTHONPATH": str(REPO)}  # hydra_plugins/ (where Hydra finds our sweeper)
    hos_env = {"PYTHONPATH": ""}
    for sampler in SAMPLERS:
        ours, ours_total = per_trial(engine_sweep, sys.executable, sampler, ours_env, args.trials)
        hos, hos_total = per_trial(hos_sweep, args.hos_python, sampler, hos_env, args.trials)
        print(f"{sampler}, {args.trials} trials: engine {ours * 1000:.1f} ms/trial "
              f"({ours_total:.2f} s in all), hydra-optuna-sweeper 1.3 {hos * 1000:.1f} ms/trial "
              f"({hos_total:.2f} s in all): ratio {ours / hos:.2f} (target < 1)")


if __name__ == "__main__":
    main()
