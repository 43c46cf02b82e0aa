"""Whole-process wall time: `python -m engine experiment=adult_hist_gbm` vs a hand-written script.

    python tests/bench/bench_overhead.py [hist_gbm] [random_forest]   # default: both

Two fixed experiments on adult.csv (48,842 rows): gradient boosting (about 5 s) and a random
forest (about 25 s). The engine runs with the evaluation extras off (EVALUATION_OFF: bootstrap
intervals, diagnostics, explanations, report.html), so both sides compute the same CV, fit and
test scores; target: engine / hand-written <= 1.10. The engine's default run, extras on, is
timed beside them for information (what the extras cost is bench_evaluation.py's subject).
Runs alternate; medians are compared. Both sides must report the same CV and test metrics,
which shows they did the same work.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from common import (
    EVALUATION_OFF,
    SHARED_DATA,
    engine_command,
    median_of,
    timed_process,
    timed_run,
)

# model -> (engine overrides, repeats)
EXPERIMENTS = {
    "hist_gbm": (["experiment=adult_hist_gbm"], 7),
    "random_forest": (["dataset=adult", "features=ordinal", "model=random_forest"], 3),
}


def main() -> None:
    adult = SHARED_DATA / "adult.csv"
    if not adult.is_file():
        raise SystemExit(f"needs {adult}")
    chosen = sys.argv[1:] or list(EXPERIMENTS)
    for model in chosen:
        overrides, repeats = EXPERIMENTS[model]
        hand, engine, default = [], [], []
        with tempfile.TemporaryDirectory() as outputs, tempfile.TemporaryDirectory() as full:
            for _ in range(repeats):
                seconds, printed = timed_run([sys.executable, "tests/bench/hand_written_adult.py",
                                              str(adult), model])
                hand.append(seconds)
                engine.append(timed_process(engine_command(*overrides, *EVALUATION_OFF),
                                            env={"ENGINE_OUTPUT_DIR": outputs}))
                default.append(timed_process(engine_command(*overrides),
                                             env={"ENGINE_OUTPUT_DIR": full}))
            check_same_metrics(json.loads(printed), Path(outputs))
            check_same_metrics(json.loads(printed), Path(full))
        print(f"adult, {model}, 5-fold CV + fit + test:")
        print(f"  hand-written script:          median {median_of(hand):.2f} s  runs {fmt(hand)}")
        print(f"  python -m engine, same work:  median {median_of(engine):.2f} s  "
              f"runs {fmt(engine)}")
        print(f"  python -m engine, as shipped: median {median_of(default):.2f} s  "
              f"runs {fmt(default)}")
        ratio = median_of(engine) / median_of(hand)
        print(f"  ratio engine (same work) / hand-written: {ratio:.3f} (target <= 1.10); "
              f"as shipped: {median_of(default) / median_of(hand):.3f}")


def check_same_metrics(hand: dict, outputs: Path) -> None:
    """Refuse to report a ratio unless the engine's last run scored exactly what the script did."""
    latest = max((outputs / "runs").iterdir(), key=lambda d: d.stat().st_mtime)
    metrics = json.loads((latest / "metrics.json").read_text())
    engine = {"cv": {k: v["mean"] for k, v in metrics["cv"].items()}, "test": metrics["test"]}
    for part in ("cv", "test"):
        for name, value in hand[part].items():
            if abs(engine[part][name] - value) > 1e-9:
                raise SystemExit(f"{part} {name}: engine {engine[part][name]} != script {value}")


def fmt(runs: list[float]) -> str:
    return " ".join(f"{r:.2f}" for r in runs)


if __name__ == "__main__":
    main()
