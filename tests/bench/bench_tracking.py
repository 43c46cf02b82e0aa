"""What logging to a local MLflow store costs a run: `python -m engine` against the same run
with `tracking=mlflow` (the default: the run returns and its helper finishes logging in the
background) and with `tracking=mlflow tracking.wait=true` (the run returns once MLflow has it),
whole processes, alternating, medians compared.

    python tests/bench/bench_tracking.py [default] [long] [--repeats 7]   # default: both

`default` is the default run (breast_cancer, hist_gbm, about 3 s on an idle machine): target
at most +0.3 s. `long` is a random forest on adult.csv (48,842 rows, about 30 s): target at
most +5 %. Each side writes to its own output folder; the MLflow side's SQLite store is made
before the first timed run, so every timed run logs to an existing store, as a user's does.
After each background run, `python -m engine runs sync` (untimed) waits for its logging to end,
so no timed run shares the machine with an earlier run's helper; every run must then be logged.
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
        target = CASES[case][1]
        print(f"{case}: tracking=none median {figure['none']:.2f} s")
        for side in list(SIDES)[1:]:
            added = figure[side] - figure["none"]
            verdict = (added <= target["added_seconds"] if "added_seconds" in target
                       else added / figure["none"] <= target["added_share"])
            print(f"  {SIDES[side]}: median {figure[side]:.2f} s: "
                  f"+{added:.2f} s (+{100 * added / figure['none']:.1f} %); target {target}: "
                  f"{'met' if verdict else 'NOT met'}")
        for side in SIDES:
            print(f"  runs {side}: {fmt(figure['runs_' + side])}")
    out = REPO / "outputs" / "bench" / "tracking.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"figures: {out}")


SIDES = {"none": "tracking=none", "mlflow": "tracking=mlflow",
         "mlflow_wait": "tracking=mlflow tracking.wait=true"}


def measure(overrides: list[str], repeats: int) -> dict[str, object]:
    """Medians (and each run) of ``repeats`` alternating runs without MLflow, with it in the
    background, and waiting for it."""
    runs: dict[str, list[float]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory() as plain, tempfile.TemporaryDirectory() as tracked:
        env = {"ENGINE_OUTPUT_DIR": tracked}
        timed_process(engine_command(*overrides, "tracking=mlflow", "tracking.wait=true"),
                      env=env)  # creates the store, untimed
        for _ in range(repeats):
            for side, settings in SIDES.items():
                folder = plain if side == "none" else tracked
                runs[side].append(timed_process(engine_command(*overrides, *settings.split()),
                                                env={"ENGINE_OUTPUT_DIR": folder}))
                if side == "mlflow":
                    timed_process(engine_command("runs", "sync"), env=env)  # untimed
        logged = list(Path(tracked, "runs").glob("*/mlflow.json"))
        if len(logged) != 2 * repeats + 1:
            raise SystemExit(f"only {len(logged)} of {2 * repeats + 1} runs were logged")
    return {**{side: median_of(times) for side, times in runs.items()},
            **{f"runs_{side}": times for side, times in runs.items()}}


def fmt(runs: list[float]) -> str:
    return " ".join(f"{r:.2f}" for r in runs)


if __name__ == "__main__":
    main()
