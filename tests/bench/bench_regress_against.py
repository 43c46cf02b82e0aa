"""``regress --against`` on a busy machine: no false alarm without a change, a slowed prediction
caught, and what the side-by-side job costs against a single-side run.

    python tests/bench/bench_regress_against.py [--runs 5] [--quick]

A scratch git repository holds this working tree as one commit (S); a clone adds one commit that
doubles the feature transform of every prediction (``pipeline[:-1].transform`` twice in
engine.deploy.batch_predict), never committed to the project. Every command runs while
``../shared/tools/cpu_load.py`` keeps two busy loops going. Measured, in this order:

- a single-side run (``regress SUITE`` without a baseline: the same training and timing repeats);
- ``--runs`` times ``regress SUITE --against HEAD`` in S (no change; the first with an empty
  cache, the others with the base's worktree and scores cached): guards regressed per run;
- a single-side run again;
- ``--runs`` times ``regress SUITE --against HEAD~1`` in the slowed clone (base S, cached): runs
  that flag a ``predict_ms`` guard, and each experiment's ratio;
- cost: the cold and the cached ``--against`` job over the mean single-side run.

``--quick`` runs three of sweeps/ci.yaml's experiments (one per dataset) with the suite's own
repeats, instead of all 22.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from common import REPO

CPU_LOAD = REPO.parent / "shared" / "tools" / "cpu_load.py"
QUICK = ("breast_cancer_logistic_regression", "wine_knn", "diabetes_ridge")
ORIGINAL = ("    return prediction_columns(Responses(pipeline[-1], "
            "pipeline[:-1].transform(features)),")
SLOWER = "    pipeline[:-1].transform(features)  # the bench's slowed change: twice\n" + ORIGINAL


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q",
        "-m", message)


def snapshot(target: Path) -> Path:
    """This working tree (tracked and untracked, not ignored) as the one commit of a new repo."""
    for name in filter(None, git(REPO, "ls-files", "-co", "--exclude-standard", "-z")
                       .split("\0")):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    git(target, "init", "-q", "-b", "main")
    commit_all(target, "snapshot")
    return target


def slowed_clone(source: Path, target: Path) -> Path:
    git(source.parent, "clone", "-q", str(source), str(target))
    path = target / "engine" / "deploy" / "batch_predict.py"
    text = path.read_text()
    if ORIGINAL not in text:
        raise SystemExit(f"{path}: the line to double is gone; update the bench's patch")
    path.write_text(text.replace(ORIGINAL, SLOWER, 1))
    commit_all(target, "predictions transform their features twice")
    return target


def regress(repo: Path, suite: Path, output: Path, cache: Path, *args: str) -> dict[str, Any]:
    """One regress run in ``repo`` under load: wall seconds, exit status, verdicts."""
    command = [sys.executable, str(CPU_LOAD), "--workers", "2", "--", sys.executable, "-m",
               "engine", "regress", str(suite), "-o", str(output), *args]
    environment = {**os.environ, "PYTHONPATH": str(repo), "ENGINE_OUTPUT_DIR": str(cache.parent)}
    environment.pop("GITHUB_STEP_SUMMARY", None)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=repo, env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}"
                         f"\n{done.stderr[-3000:]}")
    checks = json.loads((output / "results.json").read_text())["checks"]
    return {"seconds": seconds, "status": done.returncode, "checks": checks,
            "cached": "base scores: from the cache" in done.stdout}


def regressed(run: dict[str, Any]) -> list[str]:
    return [f"{c['experiment']} {c['metric']}" for c in run["checks"]
            if c["verdict"] == "regressed"]


def ratios(run: dict[str, Any], metric: str) -> dict[str, float]:
    return {c["experiment"]: round(c["ratio"], 3) for c in run["checks"]
            if c["metric"] == metric and c.get("ratio") is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-regress-"))
    base = snapshot(scratch / "base")
    slowed = slowed_clone(base, scratch / "slowed")
    suite = yaml.safe_load((REPO / "sweeps" / "ci.yaml").read_text())
    if options.quick:
        suite["experiments"] = {k: v for k, v in suite["experiments"].items() if k in QUICK}
    suite["baseline"] = str(scratch / "no-baseline.json")
    suite_file = scratch / "ci.yaml"
    suite_file.write_text(yaml.safe_dump(suite, sort_keys=False))
    cache = scratch / "outputs" / "cache"
    out = iter(scratch / f"out{n}" for n in range(1000))

    single = [regress(base, suite_file, next(out), cache)]
    stable = [regress(base, suite_file, next(out), cache, "--against", "HEAD", "--cache",
                      str(cache)) for _ in range(options.runs)]
    single.append(regress(base, suite_file, next(out), cache))
    slow = [regress(slowed, suite_file, next(out), cache, "--against", "HEAD~1", "--cache",
                    str(cache)) for _ in range(options.runs)]

    single_s = statistics.mean(run["seconds"] for run in single)
    warm = [run["seconds"] for run in stable + slow if run["cached"]]
    report = {
        "experiments": len(suite["experiments"]), "runs": options.runs,
        "single_side_seconds": [round(run["seconds"], 1) for run in single],
        "stable": [{"status": run["status"], "regressed": regressed(run),
                    "seconds": round(run["seconds"], 1), "cached": run["cached"]}
                   for run in stable],
        "slowed": [{"status": run["status"], "regressed": regressed(run),
                    "predict_ratios": ratios(run, "predict_ms"),
                    "seconds": round(run["seconds"], 1)} for run in slow],
        "stable_runs_without_regression": sum(not regressed(run) for run in stable),
        "slowed_runs_flagging_predict_ms": sum(
            any(name.endswith("predict_ms") for name in regressed(run)) for run in slow),
        "stable_predict_ratios": [ratios(run, "predict_ms") for run in stable],
        "cost_cold": round(stable[0]["seconds"] / single_s, 2),
        "cost_cached": round(statistics.mean(warm) / single_s, 2) if warm else None,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
