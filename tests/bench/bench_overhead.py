"""Whole-process wall time: `python -m engine experiment=adult_hist_gbm` vs a hand-written script.

Two fixed experiments on adult.csv (48,842 rows): gradient boosting (about 5 s) and a random
forest (about 25 s). Target: engine / hand-written <= 1.10. Runs alternate; medians are compared.
"""

from __future__ import annotations

import sys
import tempfile

from common import SHARED_DATA, engine_command, median_of, timed_process

# model -> (engine overrides, repeats)
EXPERIMENTS = {
    "hist_gbm": (["experiment=adult_hist_gbm"], 7),
    "random_forest": (["dataset=adult", "features=ordinal", "model=random_forest"], 3),
}


def main() -> None:
    adult = SHARED_DATA / "adult.csv"
    if not adult.is_file():
        raise SystemExit(f"needs {adult}")
    for model, (overrides, repeats) in EXPERIMENTS.items():
        hand, engine = [], []
        with tempfile.TemporaryDirectory() as outputs:
            for _ in range(repeats):
                hand.append(timed_process([sys.executable, "tests/bench/hand_written_adult.py",
                                           str(adult), model]))
                engine.append(timed_process(
                    engine_command(*overrides),
                    env={"ENGINE_OUTPUT_DIR": outputs},
                ))
        print(f"adult, {model}, 5-fold CV + fit + test:")
        print(f"  hand-written script: median {median_of(hand):.2f} s  runs {fmt(hand)}")
        print(f"  python -m engine:    median {median_of(engine):.2f} s  runs {fmt(engine)}")
        ratio = median_of(engine) / median_of(hand)
        print(f"  ratio engine / hand-written: {ratio:.3f} (target <= 1.10)")


def fmt(runs: list[float]) -> str:
    return " ".join(f"{r:.2f}" for r in runs)


if __name__ == "__main__":
    main()
