"""What the evaluation (bootstrap intervals, overfitting check) adds to a run, side by side.

    python tests/bench/bench_evaluation.py

The default experiment (`python -m engine`) with intervals on (1,000 resamples, the default)
against `metrics.bootstrap.resamples=0`, whole-process wall time, runs alternating, medians of
REPEATS. Target: at most 1.20. Also the in-run seconds of the bootstrap on adult.csv's 9,769
test rows (when the file is present).
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from common import SHARED_DATA, engine_command, median_of, timed_process

REPEATS = 7


def whole_run() -> None:
    on, off = [], []
    with tempfile.TemporaryDirectory() as outputs:
        env = {"ENGINE_OUTPUT_DIR": outputs}
        for _ in range(REPEATS):
            on.append(timed_process(engine_command(), env=env))
            off.append(timed_process(engine_command("metrics.bootstrap.resamples=0"), env=env))
    print(f"default run, median of {REPEATS}: {median_of(on):.2f} s with intervals, "
          f"{median_of(off):.2f} s without: ratio {median_of(on) / median_of(off):.3f} "
          "(target <= 1.20)")


def adult_bootstrap() -> None:
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    from engine.evaluation.bootstrap import BootstrapSettings, holdout_intervals
    from engine.evaluation.metrics import DEFAULT_SCORERS

    frame = pd.read_csv(SHARED_DATA / "adult.csv")
    y = (frame.pop("class") == ">50K").to_numpy().astype(int)
    X = frame.select_dtypes("number").to_numpy()
    model = HistGradientBoostingClassifier(random_state=0).fit(X[:39073], y[:39073])
    started = time.perf_counter()
    holdout_intervals(model, X[39073:], y[39073:], DEFAULT_SCORERS["binary"],
                      BootstrapSettings(resamples=1000))
    seconds = time.perf_counter() - started
    print(f"adult, {len(y) - 39073:,} test rows, 7 scorers x 1,000 resamples: {seconds:.2f} s "
          f"({np.round(seconds / 7 * 1000, 1)} ms a scorer)")


if __name__ == "__main__":
    whole_run()
    if (SHARED_DATA / "adult.csv").is_file():
        adult_bootstrap()
