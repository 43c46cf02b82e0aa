"""What the evaluation adds to a run, and how fast its parts are, side by side.

    python tests/bench/bench_evaluation.py

1. The default experiment (`python -m engine`) as shipped (bootstrap intervals, overfitting
   check, diagnostics, permutation importance, partial dependence, report.html) against the
   same run with all of them off, whole-process wall time, runs alternating, medians of REPEATS.
   Target: at most 1.20.
2. Writing report.html, in-process, for the default run and for the adult fairness example
   (when ../shared/data/adult.csv is present). Target: at most 2 s.
3. The batched permutation importance and partial dependence against scikit-learn's own
   functions, on the default run's 114 test rows through a Pipeline and on adult's 9,769 test
   rows with a bare model; and the bootstrap on adult (7 scorers x 1,000 resamples).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import EVALUATION_OFF, SHARED_DATA, engine_command, median_of, timed_process

REPEATS = 7


def whole_run() -> None:
    on, off = [], []
    with tempfile.TemporaryDirectory() as outputs:
        env = {"ENGINE_OUTPUT_DIR": outputs}
        for _ in range(REPEATS):
            on.append(timed_process(engine_command(), env=env))
            off.append(timed_process(engine_command(*EVALUATION_OFF), env=env))
    print(f"default run, median of {REPEATS}: {median_of(on):.2f} s with the evaluation, "
          f"{median_of(off):.2f} s without: ratio {median_of(on) / median_of(off):.3f} "
          "(target <= 1.20)")


def report_writing(*overrides: str, label: str) -> None:
    from engine.reporting.run_report import write_run_report

    with tempfile.TemporaryDirectory() as outputs:
        timed_process(engine_command(*overrides), env={"ENGINE_OUTPUT_DIR": outputs})
        (run_dir,) = (Path(outputs) / "runs").iterdir()
        seconds = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            path = write_run_report(run_dir)
            seconds.append(time.perf_counter() - started)
        print(f"report.html for {label}: {median_of(seconds) * 1000:.0f} ms (median of "
              f"{REPEATS}; {path.stat().st_size / 1024:.0f} KB; target <= 2 s)")


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def explanation_speed(label: str, model, X, y) -> None:
    """Batched permutation importance and partial dependence against scikit-learn's."""
    from sklearn.inspection import partial_dependence as sklearn_partial_dependence
    from sklearn.inspection import permutation_importance as sklearn_permutation_importance

    from engine.evaluation.explanations import partial_dependence, permutation_importance

    ours = timed(lambda: permutation_importance(model, X, y, "roc_auc", repeats=5, seed=0))
    theirs = timed(lambda: sklearn_permutation_importance(model, X, y, scoring="roc_auc",
                                                          n_repeats=5, random_state=0))
    print(f"{label}: permutation importance, {X.shape[1]} columns x 5 repeats: {ours:.2f} s "
          f"batched, {theirs:.2f} s scikit-learn: {theirs / ours:.1f}x faster")
    columns = list(X.columns[:3])
    ours = timed(lambda: [partial_dependence(model, X, c, [0, 1]) for c in columns])
    theirs = timed(lambda: [sklearn_partial_dependence(model, X, [c], grid_resolution=20,
                                                       method="brute") for c in columns])
    print(f"{label}: partial dependence, 3 columns x 20 grid values: {ours:.2f} s batched, "
          f"{theirs:.2f} s scikit-learn: {theirs / ours:.1f}x faster")


def breast_cancer_parts() -> None:
    """The default run's situation: a small test split through the whole Pipeline."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y.to_numpy(), test_size=0.2,
                                                        random_state=42, stratify=y)
    model = make_pipeline(StandardScaler(), HistGradientBoostingClassifier(random_state=0))
    explanation_speed("breast_cancer, 114 test rows, Pipeline",
                      model.fit(X_train, y_train), X_test.reset_index(drop=True), y_test)


def adult_parts() -> None:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    from engine.config.schema.metrics import BootstrapConfig
    from engine.evaluation.bootstrap import holdout_intervals
    from engine.evaluation.metrics import DEFAULT_SCORERS
    from engine.evaluation.responses import Responses

    frame = pd.read_csv(SHARED_DATA / "adult.csv")
    y = (frame.pop("class") == ">50K").to_numpy().astype(int)
    X = frame.select_dtypes("number").astype(float)
    train, test = slice(0, 39073), slice(39073, None)
    model = HistGradientBoostingClassifier(random_state=0).fit(X[train], y[train])
    X_test, y_test = X[test].reset_index(drop=True), y[test]
    seconds = timed(lambda: holdout_intervals(Responses(model, X_test), y_test,
                                              DEFAULT_SCORERS["binary"],
                                              BootstrapConfig(resamples=1000), seed=0))
    print(f"adult, {len(y_test):,} test rows, 7 scorers x 1,000 resamples: {seconds:.2f} s "
          f"({np.round(seconds / 7 * 1000, 1)} ms a scorer)")
    explanation_speed(f"adult, {len(y_test):,} test rows, bare model", model, X_test, y_test)


if __name__ == "__main__":
    whole_run()
    report_writing(label="the default run")
    breast_cancer_parts()
    if (SHARED_DATA / "adult.csv").is_file():
        report_writing("experiment=adult_fairness", label="adult_fairness")
        adult_parts()
