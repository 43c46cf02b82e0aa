"""Drift detection on real rows (adult.csv): the engine's defaults against Evidently's, on the
same batches.

From the repository root (Evidently in a virtual environment of its own, see the README):

    python tests/bench/bench_drift_detection.py --evidently-python /work/evidently-venv/bin/python

The file is shuffled (seeded) and split into a reference (``--reference`` rows, 1,000 and 5,000
by default; the reference profile is built from it with the bundle's own builder, and it is the
reference sample too) and, disjoint from it, a pool that ``--batches`` batches of ``--rows``
rows are drawn from for each scenario:

- ``clean``: undrifted batches; the figure is the share of column-batches flagged (every input
  column; target: at most 5 %);
- ``shift:<column>``: the column plus 0.5 of the reference's standard deviation (target: the
  column flagged in at least 95 % of batches);
- ``share:<column>=<category><+/-points>``: batches drawn so that the category's share moves
  by 10 points (target: at least 95 %).

A drifted scenario judges its drifted column only (both sides), the clean one every column.
Every batch is written as Parquet; Evidently's ``DataDriftPreset()`` (its defaults: KS,
chi-square or z-test at p 0.05 while the reference has at most 1,000 rows; normed Wasserstein
and Jensen-Shannon at 0.1 above) reads the same files in a subprocess. Ours run twice: with the
reference sample (the bundle's default) and with the profile only (``sample_rows=0``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common import SHARED_DATA

from engine.config.schema.monitor import DriftConfig
from engine.monitoring.drift import column_drift
from engine.monitoring.profile_columns import column_profiles
from engine.tracking.records import ColumnProfile

DATA = SHARED_DATA / "adult.csv"
TARGET = "class"
SHIFTS = ("age", "hours-per-week")
SHARES = (("relationship", "Husband", -0.10), ("sex", "Male", -0.10))
SEED = 0
DETECT, FALSE_ALARMS = 0.95, 0.05

EVIDENTLY = r"""
import json, sys
from pathlib import Path
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

folder = Path(sys.argv[1])
judged = json.loads((folder / "columns.json").read_text())
reference = pd.read_parquet(folder / "reference.parquet")
numeric = [c for c in reference.columns if reference[c].dtype.kind in "if"]
definition = DataDefinition(numerical_columns=numeric,
                            categorical_columns=[c for c in reference.columns if c not in numeric])
reference_set = Dataset.from_pandas(reference, data_definition=definition)
found = {}
for scenario in sorted(p for p in folder.iterdir() if p.is_dir()):
    flags = []
    for batch in sorted(scenario.glob("*.parquet")):
        current = Dataset.from_pandas(pd.read_parquet(batch), data_definition=definition)
        preset = DataDriftPreset(columns=judged[scenario.name])
        result = Report([preset]).run(current_data=current,
                                                 reference_data=reference_set).dict()
        row, methods = {}, {}
        for metric in result["metrics"]:
            config = metric["config"]
            if not config["type"].endswith("ValueDrift"):
                continue
            value, threshold, method = metric["value"], config["threshold"], config["method"]
            row[config["column"]] = bool(value <= threshold if "p_value" in method
                                         else value >= threshold)
            methods[config["column"]] = method
        flags.append(row)
    found[scenario.name] = {"flags": flags, "methods": methods}
print(json.dumps(found))
"""


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--reference", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--evidently-python", default=os.environ.get("EVIDENTLY_PYTHON"),
                        help="a Python with evidently installed (none: ours only)")
    args = parser.parse_args(argv)
    if not DATA.is_file():
        raise SystemExit(f"{DATA} is not present")
    data = pd.read_csv(DATA).drop(columns=[TARGET])
    print(f"adult.csv: {len(data)} rows, {data.shape[1]} input columns; {args.batches} batches "
          f"of {args.rows} rows per scenario; seed {SEED}; {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}")
    for size in args.reference:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            scenarios = write_batches(data, folder, size, args.batches, args.rows)
            ours = judge_ours(folder, sample=True)
            profile_only = judge_ours(folder, sample=False)
            theirs = judge_evidently(folder, args.evidently_python)
            report(size, scenarios, ours, profile_only, theirs)


def write_batches(data: pd.DataFrame, folder: Path, size: int, batches: int,
                  rows: int) -> dict[str, str | None]:
    """The reference and every scenario's batches as Parquet; returns each scenario's drifted
    column (None for the clean batches)."""
    shuffled = data.sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    reference, pool = shuffled.iloc[:size], shuffled.iloc[size:].reset_index(drop=True)
    reference.to_parquet(folder / "reference.parquet", index=False)
    rng = np.random.default_rng(SEED)
    scenarios: dict[str, str | None] = {"clean": None}
    made: dict[str, list[pd.DataFrame]] = {"clean": [pool.sample(rows, random_state=rng)
                                                    for _ in range(batches)]}
    for column in SHIFTS:
        name = f"shift:{column}"
        scenarios[name] = column
        made[name] = [shifted(pool.sample(rows, random_state=rng), column,
                              0.5 * float(reference[column].std())) for _ in range(batches)]
    for column, category, points in SHARES:
        name = f"share:{column}={category}{points * 100:+.0f}"
        scenarios[name] = column
        share = float((reference[column] == category).mean()) + points
        inside = pool.index[pool[column] == category].to_numpy()
        outside = pool.index[(pool[column] != category)].to_numpy()
        count = round(share * rows)
        made[name] = [pool.loc[np.concatenate([rng.choice(inside, count, replace=False),
                                               rng.choice(outside, rows - count,
                                                          replace=False)])]
                      for _ in range(batches)]
    judged = {_safe(name): None if column is None else [column]
              for name, column in scenarios.items()}
    (folder / "columns.json").write_text(json.dumps(judged))
    for name, frames in made.items():
        (folder / _safe(name)).mkdir()
        for index, frame in enumerate(frames):
            frame.to_parquet(folder / _safe(name) / f"{index:03d}.parquet", index=False)
    return scenarios


def shifted(batch: pd.DataFrame, column: str, step: float) -> pd.DataFrame:
    return batch.assign(**{column: batch[column] + step})


def _safe(name: str) -> str:
    return name.replace(":", "_").replace("=", "_").replace("+", "p").replace("-", "m")


def judge_ours(folder: Path, *, sample: bool) -> dict[str, dict[str, object]]:
    """Our defaults on every batch of every scenario: flags per column, the tests that ran,
    and the seconds all batches took."""
    reference = pd.read_parquet(folder / "reference.parquet")
    profiles: dict[str, ColumnProfile] = column_profiles(reference, text_columns=(), bins=10,
                                                         max_categories=50)
    judged = json.loads((folder / "columns.json").read_text())
    settings = DriftConfig()
    found: dict[str, dict[str, object]] = {}
    for scenario in sorted(p for p in folder.iterdir() if p.is_dir()):
        flags, methods, seconds = [], {}, 0.0
        columns = judged[scenario.name] or list(profiles)
        for batch in sorted(scenario.glob("*.parquet")):
            current = pd.read_parquet(batch)
            started = time.perf_counter()
            row = {}
            for column in columns:
                profile = profiles[column]
                result = column_drift(column, profile,
                                      reference[column].dropna() if sample else None,
                                      current[column].dropna(), settings)
                row[column] = result.drifted
                methods[column] = result.test
            seconds += time.perf_counter() - started
            flags.append(row)
        found[scenario.name] = {"flags": flags, "methods": methods, "seconds": seconds}
    return found


def judge_evidently(folder: Path, python: str | None) -> dict[str, dict[str, object]] | None:
    if not python:
        return None
    started = time.perf_counter()
    done = subprocess.run([python, "-c", EVIDENTLY, str(folder)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"evidently failed:\n{done.stderr[-3000:]}")
    found: dict[str, dict[str, object]] = json.loads(done.stdout)
    for entry in found.values():
        entry["seconds"] = (time.perf_counter() - started) / len(found)
    return found


def report(size: int, scenarios: dict[str, str | None], *judged: dict | None) -> None:
    names = ("ours (sample)", "ours (profile only)", "Evidently defaults")
    sides = [(name, found) for name, found in zip(names, judged, strict=True) if found]
    print(f"\nreference: {size} rows")
    print(f"{'scenario':<32}" + "".join(f"{name:>22}" for name, _ in sides) + "   target")
    for scenario, column in scenarios.items():
        cells = []
        for _, found in sides:
            entry = found[_safe(scenario)]
            flags: list[dict[str, bool]] = entry["flags"]  # type: ignore[assignment]
            if column is None:
                rate = np.mean([flag for row in flags for flag in row.values()])
            else:
                rate = np.mean([row[column] for row in flags])
            cells.append(f"{rate:>21.1%}" + ("*" if _misses(rate, column) else " "))
        target = f"<= {FALSE_ALARMS:.0%} of column-batches" if column is None \
            else f">= {DETECT:.0%} of batches"
        print(f"{scenario:<32}" + "".join(cells) + f"   {target}")
    print("(* misses its target)")
    for name, found in sides:
        clean = found["clean"]
        flags = clean["flags"]  # type: ignore[assignment]
        per_column = pd.DataFrame(flags).mean()
        worst = per_column.sort_values(ascending=False).head(3)
        methods = clean["methods"]  # type: ignore[assignment]
        print(f"  {name}: tests {sorted(set(methods.values()))}; clean batches' most flagged "
              f"columns: " + ", ".join(f"{c} {v:.0%}" for c, v in worst.items())
              + f"; {sum(float(e['seconds']) for e in found.values()):.1f} s in all")


def _misses(rate: float, column: str | None) -> bool:
    return rate > FALSE_ALARMS if column is None else rate < DETECT


if __name__ == "__main__":
    main()
