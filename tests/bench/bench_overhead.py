"""Whole-process wall time: `python -m engine experiment=adult_hist_gbm` vs the hand-written script.

Target: engine / hand-written <= 1.10. Runs alternate, five of each; medians are compared.
"""

from __future__ import annotations

import sys
import tempfile

from common import SHARED_DATA, engine_command, median_of, timed_process

REPEATS = 5


def main() -> None:
    adult = SHARED_DATA / "adult.csv"
    if not adult.is_file():
        raise SystemExit(f"needs {adult}")
    hand, engine = [], []
    with tempfile.TemporaryDirectory() as outputs:
        for _ in range(REPEATS):
            hand.append(timed_process([sys.executable, "tests/bench/hand_written_adult.py",
                                       str(adult)]))
            engine.append(timed_process(engine_command("experiment=adult_hist_gbm"),
                                        env={"ENGINE_OUTPUT_DIR": outputs}))
    print(f"hand-written script: median {median_of(hand):.2f} s  runs {fmt(hand)}")
    print(f"python -m engine:    median {median_of(engine):.2f} s  runs {fmt(engine)}")
    ratio = median_of(engine) / median_of(hand)
    print(f"ratio engine / hand-written: {ratio:.3f} (target <= 1.10)")


def fmt(runs: list[float]) -> str:
    return " ".join(f"{r:.2f}" for r in runs)


if __name__ == "__main__":
    main()
