"""Drift on 1,000,000 rows x 50 columns: the engine against Evidently's DataDriftPreset, the same
data and the same test per column, side by side in one run (ours: at least 5x faster, peak
memory at most 2 GB, the same drifted/not-drifted verdict on every column).

From the repository root (Evidently in a virtual environment of its own, see the README):

    python tests/bench/bench_monitor_speed.py --evidently-python /work/evidently-venv/bin/python

Generated, seeded: 35 numeric columns (normal, log-normal, integer counts) and 15 categorical
ones (2 to 40 categories), 10 of them drifted (numbers shifted by 0.5 standard deviations,
categories' shares tilted). The reference is 5,000 undrifted rows, the bundle's default
reference sample; its profile is built with the bundle's own builder. Both sides read the same
Parquet files in a fresh process each and are timed from the data frames in memory to the
verdicts: ours ``engine.monitoring.drift.column_drift`` per column with the defaults (``auto``
picks normed Wasserstein and Jensen-Shannon above 1,000 rows), Evidently ``DataDriftPreset``
with ``num_method="wasserstein"`` and ``cat_method="jensenshannon"`` (what it picks by itself
for a reference over 1,000 rows) and its default thresholds, which are ours (0.1).

``--command`` also times the whole ``python -m engine monitor RUN`` on the same 1,000,000 rows
written as a prediction log, for a bundle trained on 20,000 rows of the same 50 columns
(logistic regression): reading the log, drift of the 50 columns and the prediction, data
quality, the estimated performance (CBPE), monitor.json and monitor.html; its wall and CPU
time (interpreter start included) and peak memory, and with ``--evidently-python`` its ratio to
Evidently's time above (issue 19's target: the whole command at least 5x faster, at most 2 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common import REPO, engine_command

ROWS, NUMERIC, CATEGORICAL, REFERENCE = 1_000_000, 35, 15, 5000
DRIFTED_NUMERIC, DRIFTED_CATEGORICAL = 7, 3
SEED = 0
TARGET_RATIO, TARGET_GB = 5.0, 2.0
MEASURED = """
import resource, runpy, sys
sys.argv = ["engine", *sys.argv[1:]]
try:
    runpy.run_module("engine", run_name="__main__")
finally:
    print("peak_gb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, file=sys.stderr)
"""
"""``python -m engine ARGS`` that prints its own peak resident memory last on standard error."""

EVIDENTLY = r"""
import json, resource, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

folder = sys.argv[1]
reference = pd.read_parquet(f"{folder}/reference.parquet")
current = pd.read_parquet(f"{folder}/current.parquet")
numeric = [c for c in reference.columns if c.startswith("num")]
definition = DataDefinition(numerical_columns=numeric,
                            categorical_columns=[c for c in reference.columns if c not in numeric])
started, cpu = time.perf_counter(), time.process_time()
result = Report([DataDriftPreset(num_method="wasserstein", cat_method="jensenshannon")]).run(
    current_data=Dataset.from_pandas(current, data_definition=definition),
    reference_data=Dataset.from_pandas(reference, data_definition=definition)).dict()
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
columns = {}
for metric in result["metrics"]:
    config = metric["config"]
    if config["type"].endswith("ValueDrift"):
        columns[config["column"]] = {"statistic": metric["value"], "method": config["method"],
                                     "drifted": bool(metric["value"] >= config["threshold"])}
print(json.dumps({"seconds": seconds, "cpu": cpu, "columns": columns,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}))
"""


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--evidently-python", default=os.environ.get("EVIDENTLY_PYTHON"))
    parser.add_argument("--command", action="store_true",
                        help="also time the whole `python -m engine monitor` on a trained bundle")
    parser.add_argument("--judge-ours", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.judge_ours:
        print(json.dumps(judge_ours(Path(args.judge_ours))))
        return
    print(f"{args.rows} rows x {NUMERIC + CATEGORICAL} columns "
          f"({DRIFTED_NUMERIC + DRIFTED_CATEGORICAL} drifted); reference {REFERENCE} rows; "
          f"seed {SEED}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        drifted = write_data(folder, args.rows)
        ours = run_json([sys.executable, __file__, "--judge-ours", str(folder)])
        print(f"ours: {ours['seconds']:.2f} s wall ({ours['cpu']:.2f} s CPU) for "
              f"{len(ours['columns'])} columns (tests "
              f"{sorted({c['test'] for c in ours['columns'].values()})}); peak RSS "
              f"{ours['peak_gb']:.2f} GB (the data in memory included); allocations during the "
              f"drift computation peak at {ours['traced_gb']:.3f} GB")
        wrong = sorted(c for c, found in ours["columns"].items()
                       if found["drifted"] != (c in drifted))
        print(f"ours: {len(ours['columns']) - len(wrong)}/{len(ours['columns'])} verdicts as "
              f"injected" + (f"; wrong: {wrong}" if wrong else ""))
        theirs = None
        if args.evidently_python:
            theirs = run_json([args.evidently_python, "-c", EVIDENTLY, str(folder)])
            compare(ours, theirs)
        if args.command:
            time_command(folder, ours, theirs)


def write_data(folder: Path, rows: int) -> set[str]:
    """reference.parquet (undrifted) and current.parquet (some columns drifted); returns the
    drifted columns' names."""
    rng = np.random.default_rng(SEED)
    total = rows + REFERENCE
    frame: dict[str, object] = {}
    drifted: set[str] = set()
    for index in range(NUMERIC):
        name = f"num{index:02d}"
        kind = index % 3
        if kind == 0:
            values = rng.normal(rng.uniform(-5, 5), rng.uniform(0.5, 5), total)
        elif kind == 1:
            values = rng.lognormal(rng.uniform(0, 2), 0.5, total)
        else:
            values = rng.poisson(rng.uniform(10, 50), total).astype(float)
        if index < DRIFTED_NUMERIC:
            values[REFERENCE:] += 0.5 * values[:REFERENCE].std()
            drifted.add(name)
        frame[name] = values
    for index in range(CATEGORICAL):
        name = f"cat{index:02d}"
        levels = 2 + (index * 38) // (CATEGORICAL - 1)
        shares = rng.dirichlet(np.full(levels, 2.0))
        codes = rng.choice(levels, total, p=shares)
        if index < DRIFTED_CATEGORICAL:  # the commonest category loses 30 points to the others
            tilted = shares.copy()
            top = int(np.argmax(shares))
            moved = min(0.3, tilted[top] - 0.01)
            tilted[top] -= moved
            rest = np.arange(levels) != top
            tilted[rest] += moved * tilted[rest] / tilted[rest].sum()
            codes[REFERENCE:] = rng.choice(levels, rows, p=tilted)
            drifted.add(name)
        names = np.asarray([f"level_{level}" for level in range(levels)], dtype=object)
        frame[name] = pd.Categorical.from_codes(codes, categories=names)
    data = pd.DataFrame(frame)
    data.iloc[:REFERENCE].to_parquet(folder / "reference.parquet", index=False)
    data.iloc[REFERENCE:].to_parquet(folder / "current.parquet", index=False)
    return drifted


def judge_ours(folder: Path) -> dict[str, object]:
    """Our drift of every column (a fresh process: its peak memory is the judging's own)."""
    from engine.config.schema.monitor import DriftConfig
    from engine.monitoring.drift import column_drift
    from engine.monitoring.profile_columns import column_profiles

    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    profiles = column_profiles(reference, text_columns=(), bins=10, max_categories=50)
    settings = DriftConfig()

    def judge() -> dict[str, dict[str, object]]:
        return {column: _record(column_drift(column, profile, reference[column], current[column],
                                             settings))
                for column, profile in profiles.items()}

    started, cpu = time.perf_counter(), time.process_time()
    columns = judge()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    tracemalloc.start()
    judge()
    traced = tracemalloc.get_traced_memory()[1] / 1024**3
    tracemalloc.stop()
    return {"seconds": seconds, "cpu": cpu, "columns": columns, "peak_gb": peak_gb,
            "traced_gb": traced}


def _record(found: object) -> dict[str, object]:
    return {"test": found.test, "statistic": found.statistic,  # type: ignore[attr-defined]
            "drifted": found.drifted}  # type: ignore[attr-defined]


def run_json(command: list[str]) -> dict:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(ours: dict, theirs: dict) -> None:
    disagree = sorted(c for c, found in ours["columns"].items()
                      if found["drifted"] != theirs["columns"][c]["drifted"])
    gaps = [abs(found["statistic"] - theirs["columns"][c]["statistic"])
            for c, found in ours["columns"].items()]
    ratio = theirs["seconds"] / ours["seconds"]
    print(f"Evidently DataDriftPreset: {theirs['seconds']:.2f} s wall ({theirs['cpu']:.2f} s "
          f"CPU) (tests "
          f"{sorted({c['method'] for c in theirs['columns'].values()})}); peak RSS "
          f"{theirs['peak_gb']:.2f} GB")
    print(f"verdicts: {len(ours['columns']) - len(disagree)}/{len(ours['columns'])} columns the "
          f"same" + (f"; different: {disagree}" if disagree else "")
          + f"; statistics differ by at most {max(gaps):.2g}")
    print(f"ratio (Evidently / ours): {ratio:.1f}x wall, {theirs['cpu'] / ours['cpu']:.1f}x "
          f"CPU (target >= {TARGET_RATIO:.0f}x); ours peak "
          f"{ours['peak_gb']:.2f} GB (target <= {TARGET_GB:.0f} GB)")


def time_command(folder: Path, ours: dict, theirs: dict | None = None) -> None:
    """Train a bundle on 20,000 rows of the same columns, write the 1,000,000 rows as its
    prediction log and time ``python -m engine monitor RUN`` (wall and CPU, interpreter start
    included), against Evidently's DataDriftPreset where it ran."""
    from engine.monitoring.columns import MODEL, PREDICTION, REQUEST_ID, ROW, TIME, VERSION

    reference = pd.read_parquet(folder / "reference.parquet")
    current = pd.read_parquet(folder / "current.parquet")
    rng = np.random.default_rng(SEED + 1)
    train = pd.concat([reference] * 4, ignore_index=True)
    score = train["num00"].to_numpy() + rng.normal(0, 2, len(train))
    train["y"] = np.where(score > np.median(score), "yes", "no")
    train.to_parquet(folder / "train.parquet", index=False)
    outputs = folder / "outputs"
    env = {**os.environ, "ENGINE_OUTPUT_DIR": str(outputs)}
    trained = subprocess.run(
        engine_command("dataset=titanic", "dataset.name=speed50",
                       f"dataset.path={folder / 'train.parquet'}", "dataset.target=y",
                       "dataset.drop=[]", "model=logistic_regression", "split.cv.n_splits=2",
                       "metrics.bootstrap.resamples=0", "report=false"),
        cwd=REPO, env=env, capture_output=True, text=True)
    if trained.returncode != 0:
        raise SystemExit(f"training failed:\n{trained.stdout[-2000:]}\n{trained.stderr[-2000:]}")
    run_dir = next(p.parent for p in outputs.rglob("run.json"))
    log = run_dir / "prediction_log" / "predictions" / "day=2026-01-01"
    log.mkdir(parents=True)
    rows = len(current)
    logged = current.assign(**{
        REQUEST_ID: [f"r{i // 100}" for i in range(rows)], ROW: np.arange(rows) % 100,
        TIME: pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(rows) * 50,
                                                                       unit="ms"),
        MODEL: "speed50", VERSION: None,
        PREDICTION: np.where(current["num00"] > reference["num00"].median(), "yes", "no"),
        "_probability:no": 0.5, "_probability:yes": 0.5})
    logged.to_parquet(log / "part-0.parquet", index=False)
    started, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", MEASURED, "monitor", str(run_dir), "-o",
                           str(folder / "report")],
                          cwd=REPO, env=env, capture_output=True, text=True)
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1):
        raise SystemExit(f"monitor failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    peak = float(done.stderr.strip().splitlines()[-1].split()[-1])
    print(f"python -m engine monitor RUN (1 chunk of {rows} logged rows, exit "
          f"{done.returncode}): {seconds:.1f} s wall ({cpu:.1f} s CPU), interpreter start "
          f"included; peak RSS {peak:.2f} GB; drift alone above: {ours['seconds']:.2f} s")
    if theirs is not None:
        print(f"ratio (Evidently's DataDriftPreset / the whole monitor command): "
              f"{theirs['seconds'] / seconds:.1f}x wall, {theirs['cpu'] / cpu:.1f}x CPU "
              f"(target >= {TARGET_RATIO:.0f}x); monitor peak {peak:.2f} GB (target <= "
              f"{TARGET_GB:.0f} GB)")


if __name__ == "__main__":
    main()
