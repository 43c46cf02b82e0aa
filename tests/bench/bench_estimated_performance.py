"""Estimated performance without labels (CBPE) against the realised metric, under covariate shift.

    python tests/bench/bench_estimated_performance.py [--batches 100] [--model hist_gbm]

The engine trains on 20,000 rows of ../shared/data/adult.csv (its held-out test rows give the
reference profile's calibration maps). The other 28,842 rows are the production pool. Each of
``--batches`` seeded batches (of 500 and of 2,000 rows) is drawn from the pool with weights
``exp(1.0 * z(age) - 0.5 * z(hours-per-week))``: older people working fewer hours than in
training, the labels untouched (P(y | x) unchanged: covariate shift). The bundle predicts each
batch; ``engine.monitoring.performance`` estimates its accuracy and ROC AUC from the calibrated
probabilities alone and measures them with the labels, with a 95 % bootstrap interval
(1,000 resamples). Target (issue 19): the estimate inside the realised interval in at least
90 % of batches, for each metric and batch size. The widths of both intervals are printed, so
that a wide interval cannot pass by itself.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import REPO, SHARED_DATA

TRAIN_ROWS = 20_000
SIZES = (500, 2000)
METRICS = ("accuracy", "roc_auc")


def train(data: pd.DataFrame, folder: Path, model: str) -> Path:
    from rich.console import Console

    from engine.config.compose import compose_spec
    from engine.experiment import run_experiment

    path = folder / "adult_train.csv"
    data.to_csv(path, index=False)
    run_dir = folder / "run"
    run_dir.mkdir()
    spec = compose_spec(["dataset=adult", f"dataset.path={path}", f"model={model}",
                         "split.cv.n_splits=3", "report=false"])
    run_experiment(spec, run_dir, project_dir=REPO, console=Console(quiet=True))
    return run_dir


def shifted_weights(pool: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
    def z(column: str) -> np.ndarray:
        values = pool[column].to_numpy(float)
        return (values - reference[column].mean()) / reference[column].std()

    weights = np.exp(1.0 * z("age") - 0.5 * z("hours-per-week"))
    return weights / weights.sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--model", default="hist_gbm")
    parser.add_argument("--resamples", type=int, default=1000)
    options = parser.parse_args()
    from engine.config.schema.monitor import PerformanceConfig
    from engine.deploy.batch_predict import check_rows, predict_features, read_rows
    from engine.deploy.bundle import load_bundle
    from engine.monitoring.columns import PREDICTION, TARGET, probability_column
    from engine.monitoring.performance import estimated, realised
    from engine.monitoring.profile import load_reference

    adult = pd.read_csv(SHARED_DATA / "adult.csv")
    order = np.random.default_rng(0).permutation(len(adult))
    training, pool = adult.iloc[order[:TRAIN_ROWS]], adult.iloc[order[TRAIN_ROWS:]]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = train(training, Path(scratch), options.model)
        bundle = load_bundle(run_dir)
        profile = load_reference(bundle).profile
        pool_path = Path(scratch) / "pool.csv"
        pool.to_csv(pool_path, index=False)
        rows = read_rows(pool_path, bundle.metadata.reading)
    print(f"trained {options.model} on {TRAIN_ROWS} adult rows in "
          f"{time.perf_counter() - started:.0f} s; reference (held-out) accuracy "
          f"{profile.scores.get('accuracy'):.4f}, ROC AUC {profile.scores.get('roc_auc'):.4f}")
    features, _ = check_rows(bundle, rows)
    predicted = predict_features(bundle, features)
    classes = bundle.metadata.classes
    frame = pd.DataFrame({PREDICTION: predicted["prediction"].to_numpy(),
                          TARGET: rows[bundle.metadata.target].to_numpy(),
                          **{probability_column(c): predicted[f"proba_{c}"].to_numpy()
                             for c in classes}})
    weights = shifted_weights(rows, training)
    settings = PerformanceConfig(resamples=options.resamples, confidence=0.95)
    print(f"pool {len(frame)} rows; batches drawn with covariate shift: mean age "
          f"{np.average(rows['age'], weights=weights):.1f} (training {training['age'].mean():.1f}),"
          f" hours {np.average(rows['hours-per-week'], weights=weights):.1f} "
          f"(training {training['hours-per-week'].mean():.1f})")
    print(f"\n{'batch':>6} {'metric':>9} {'inside':>8} {'|est-real|':>11} {'realised width':>15} "
          f"{'estimate width':>15} {'realised mean':>14} {'estimate mean':>14}")
    failed = False
    for size in SIZES:
        rng = np.random.default_rng(size)
        found: dict[str, list[tuple[float, float, float, float, float, float]]] = \
            {m: [] for m in METRICS}
        for batch in range(options.batches):
            picked = rng.choice(len(frame), size=size, replace=False, p=weights)
            chunk = frame.iloc[picked]
            measured = {m.metric: m for m in realised(
                chunk, classes=classes, metrics=METRICS, profile=profile, settings=settings,
                seed=batch)}
            guess = estimated(chunk, task=bundle.metadata.task, classes=classes,
                              profile=profile, settings=settings, seed=batch)
            assert guess.valid, guess.reason
            for estimate in guess.metrics:
                real = measured[estimate.metric]
                assert real.value is not None and real.low is not None and real.high is not None
                assert estimate.value is not None and estimate.low is not None \
                    and estimate.high is not None
                found[estimate.metric].append((
                    float(real.low <= estimate.value <= real.high),
                    abs(estimate.value - real.value), real.high - real.low,
                    estimate.high - estimate.low, real.value, estimate.value))
        for metric, values in found.items():
            table = np.array(values)
            share = table[:, 0].mean()
            failed |= share < 0.90
            print(f"{size:>6} {metric:>9} {share:>8.0%} {table[:, 1].mean():>11.4f} "
                  f"{table[:, 2].mean():>15.4f} {table[:, 3].mean():>15.4f} "
                  f"{table[:, 4].mean():>14.4f} {table[:, 5].mean():>14.4f}")
    print("\ninside: share of batches whose estimate (no labels) lies inside the realised "
          "metric's 95 % bootstrap interval (target >= 90 %); widths are means over batches")
    print("FAILED: below target" if failed else "target met")


if __name__ == "__main__":
    main()
