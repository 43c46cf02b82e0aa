"""Tuning figures, each side by side in one run.

    python tests/bench/bench_tuning.py [overhead] [parallel] [pruning]   # default: all three

- overhead: `python -m engine model=random_forest tune=tpe` against hand_written_optuna.py, the
  same search by hand (same data, folds, space, seeded sampler, trial count); both must find the
  same best CV score. Target: wall ratio <= 1.05. The engine runs with the evaluation extras
  off (EVALUATION_OFF, as bench_overhead.py), so both sides refit and score the same; measured
  with the plots (default) and without (tune.plots=false): the script draws none.
- parallel: the same 24 trials (QMC sampler: one low-discrepancy sequence shared by the workers,
  so both runs evaluate the same parameters) with tune.n_jobs=2 against tune.n_jobs=1 on 2
  cores: trials per second of the search. Target: >= 1.7.
- pruning: a 60-trial, 5-fold TPE search of the RBF/linear/poly SVM space on 2,000 synthetic rows
  (fitting dominates each trial) with tune.pruner=median against none: total trial time and best
  CV score. Targets: >= 40 % less time, best within 0.002 (or better).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import EVALUATION_OFF, engine_command, median_of, timed_process, timed_run

OVERHEAD_TRIALS = 20
REPEATS = 3


def latest_metrics(outputs: Path) -> dict:
    latest = max((outputs / "runs").iterdir(), key=lambda d: d.stat().st_mtime)
    return json.loads((latest / "metrics.json").read_text())


def overhead() -> None:
    engine_args = ("model=random_forest", "tune=tpe", f"tune.n_trials={OVERHEAD_TRIALS}",
                   *EVALUATION_OFF)
    hand, engine, no_plots = [], [], []
    with tempfile.TemporaryDirectory() as outputs:
        for _ in range(REPEATS):
            seconds, printed = timed_run([sys.executable, "tests/bench/hand_written_optuna.py",
                                          str(OVERHEAD_TRIALS)])
            hand.append(seconds)
            engine.append(timed_process(engine_command(*engine_args),
                                        env={"ENGINE_OUTPUT_DIR": outputs}))
            no_plots.append(timed_process(engine_command(*engine_args, "tune.plots=false"),
                                          env={"ENGINE_OUTPUT_DIR": outputs}))
        ours = latest_metrics(Path(outputs))["tuning"]["best_values"][0]
    theirs = json.loads(printed)["best_value"]
    if abs(ours - theirs) > 1e-12:
        raise SystemExit(f"not the same search: engine best {ours} != script best {theirs}")
    print(f"overhead, breast_cancer, random_forest, TPE, {OVERHEAD_TRIALS} trials x 5 folds "
          f"(same best CV roc_auc {ours:.6f}):")
    print(f"  hand-written Optuna script: median {median_of(hand):.2f} s  runs {fmt(hand)}")
    print(f"  python -m engine:           median {median_of(engine):.2f} s  runs {fmt(engine)}")
    print(f"  engine, no plots:           median {median_of(no_plots):.2f} s  runs {fmt(no_plots)}")
    print(f"  ratio: {median_of(engine) / median_of(hand):.3f} with plots, "
          f"{median_of(no_plots) / median_of(hand):.3f} without (target <= 1.05)")


def search(*overrides: str) -> dict:
    with tempfile.TemporaryDirectory() as outputs:
        timed_process(engine_command(*overrides), env={"ENGINE_OUTPUT_DIR": outputs})
        return latest_metrics(Path(outputs))["tuning"]


def parallel() -> None:
    common = ("model=random_forest", "tune=qmc", "tune.n_trials=24", "tune.plots=false")
    one = search(*common, "tune.n_jobs=1")
    two = search(*common, "tune.n_jobs=2")
    rate_one = 24 / one["search_seconds"]
    rate_two = 24 / two["search_seconds"]
    print("parallel, breast_cancer, random_forest, QMC sampler, 24 trials x 5 folds:")
    print(f"  n_jobs=1: {one['search_seconds']:.1f} s, {rate_one:.2f} trials/s")
    print(f"  n_jobs=2: {two['search_seconds']:.1f} s, {rate_two:.2f} trials/s")
    print(f"  speed-up: {rate_two / rate_one:.2f}x (target >= 1.7)")


def pruning() -> None:
    common = ("dataset=synthetic_classification", "dataset.n_samples=2000", "model=svm",
              "tune=tpe", "tune.n_trials=60", "tune.plots=false")
    results = {}
    for pruner in ("none", "median"):
        with tempfile.TemporaryDirectory() as outputs:
            timed_process(engine_command(*common, f"tune.pruner={pruner}"),
                          env={"ENGINE_OUTPUT_DIR": outputs})
            latest = max((Path(outputs) / "runs").iterdir(), key=lambda d: d.stat().st_mtime)
            record = json.loads((latest / "metrics.json").read_text())["tuning"]
            trials = (latest / "tuning" / "trials.csv").read_text().splitlines()
            header = trials[0].split(",")
            durations = [float(row.split(",")[header.index("duration_s")]) for row in trials[1:]]
            results[pruner] = (sum(durations), record["best_values"][0], record["trials"])
    (base_time, base_best, _), (time_pruned, best_pruned, states) = results.values()
    print("pruning, synthetic 2,000 x 20, svm, TPE, 60 trials x 5 folds:")
    print(f"  no pruner:     total trial time {base_time:.1f} s, best CV roc_auc {base_best:.5f}")
    print(f"  median pruner: total trial time {time_pruned:.1f} s, best CV roc_auc "
          f"{best_pruned:.5f}, trials {states}")
    print(f"  time saved: {1 - time_pruned / base_time:.0%} (target >= 40 %); best difference "
          f"{best_pruned - base_best:+.5f} (target >= -0.002)")


def fmt(runs: list[float]) -> str:
    return " ".join(f"{r:.2f}" for r in runs)


if __name__ == "__main__":
    chosen = sys.argv[1:] or ["overhead", "parallel", "pruning"]
    for name in chosen:
        {"overhead": overhead, "parallel": parallel, "pruning": pruning}[name]()
