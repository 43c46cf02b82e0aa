"""What logging to a local MLflow store costs a run: `python -m engine` against the same run
with `tracking=mlflow`, whole processes, alternating, medians compared.

    python tests/bench/bench_tracking.py [default] [long] [--repeats 7]   # default: both

`default` is the default run (breast_cancer, hist_gbm, about 3 s on an idle machine): target
at most +0.3 s. `long` is a random forest on adult.csv (48,842 rows, about 30 s): target at
most +5 %. Each side writes to its own output folder; the MLflow side's SQLite store is made
before the first timed run, so every timed run logs to an existing store, as a user's does.
Figures go to outputs/bench/tracking.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from common import REPO, SHARED_DATA, engine_command, median_of, timed_process

CASES = {
    "default": ([], {"added_seconds": 0.3}),
    "long": (["dataset=adult", "features=ordinal", "model=random_forest"], {"added_share": 0.05}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=7)
    options = parser.parse_args()
    options.cases = options.cases or list(CASES)
    if "long" in options.cases and not (SHARED_DATA / "adult.csv").is_file():
        raise SystemExit(f"the long case needs {SHARED_DATA / 'adult.csv'}")
    figures = {case: measure(CASES[case][0], options.repeats) for case in options.cases}
    for case, figure in figures.items():
        added = figure["mlflow"] - figure["none"]
        target = CASES[case][1]
        verdict = (added <= target["added_seconds"] if "added_seconds" in target
                   else added / figure["none"] <= target["added_share"])
        print(f"{case}: tracking=none median {figure['none']:.2f} s, tracking=mlflow median "
              f"{figure['mlflow']:.2f} s: +{added:.2f} s (+{100 * added / figure['none']:.1f} %)"
              f"; target {target}: {'met' if verdict else 'NOT met'}")
        print(f"  runs none:   {fmt(figure['runs_none'])}\n  runs mlflow: "
              f"{fmt(figure['runs_mlflow'])}")
    out = REPO / "outputs" / "bench" / "tracking.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures: {out}")


def measure(overrides: list[str], repeats: int) -> dict[str, object]:
    """Medians (and each run) of ``repeats`` alternating runs without and with MLflow."""
    runs: dict[str, list[float]] = {"none": [], "mlflow": []}
    with tempfile.TemporaryDirectory() as plain, tempfile.TemporaryDirectory() as tracked:
        folders = {"none": plain, "mlflow": tracked}
        timed_process(engine_command(*overrides, "tracking=mlflow"),
                      env={"ENGINE_OUTPUT_DIR": tracked})  # creates the store, untimed
        for _ in range(repeats):
            for backend in ("none", "mlflow"):
                runs[backend].append(timed_process(
                    engine_command(*overrides, f"tracking={backend}"),
                    env={"ENGINE_OUTPUT_DIR": folders[backend]}))
        logged = list(Path(tracked, "runs").glob("*/mlflow.json"))
        if len(logged) != repeats + 1:
            raise SystemExit(f"only {len(logged)} of {repeats + 1} runs were logged to MLflow")
    return {"none": median_of(runs["none"]), "mlflow": median_of(runs["mlflow"]),
            "runs_none": runs["none"], "runs_mlflow": runs["mlflow"]}


def fmt(runs: list[float]) -> str:
    return " ".join(f"{r:.2f}" for r in runs)


if __name__ == "__main__":
    main()
