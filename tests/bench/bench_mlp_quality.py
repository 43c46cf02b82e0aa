"""Quality of the tuned MLP, beside the untuned hist_gbm default, in one run.

    python tests/bench/bench_mlp_quality.py [--adult-trials 12] [--bc-trials 30]

- breast_cancer: model=mlp tune=tpe (pruning on epochs with the median pruner), CV ROC AUC.
  Target >= 0.99.
- ../shared/data/adult.csv: model=mlp features=embeddings tune=tpe, CV ROC AUC. Target >= 0.90.
  (skipped when the file is absent)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from common import SHARED_DATA, engine_command, timed_run


def cv_and_test(outputs: Path, args: list[str]) -> tuple[float, float, float]:
    started = time.perf_counter()
    timed_run(engine_command(*args), env={"ENGINE_OUTPUT_DIR": str(outputs)})
    seconds = time.perf_counter() - started
    latest = max((outputs / "runs").iterdir(), key=lambda d: d.stat().st_mtime)
    metrics = json.loads((latest / "metrics.json").read_text())
    return metrics["cv"]["roc_auc"]["mean"], metrics["test"]["roc_auc"], seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bc-trials", type=int, default=30)
    parser.add_argument("--adult-trials", type=int, default=12)
    args = parser.parse_args()
    cases = [
        ("breast_cancer", "mlp tuned", ["model=mlp", "tune=tpe", f"tune.n_trials={args.bc_trials}",
                                        "tune.pruner=median"], 0.99),
        ("breast_cancer", "hist_gbm", ["model=hist_gbm"], None),
    ]
    if (SHARED_DATA / "adult.csv").is_file():
        cases += [
            ("adult", "mlp tuned", ["dataset=adult", "model=mlp", "features=embeddings",
                                    "tune=tpe", f"tune.n_trials={args.adult_trials}",
                                    "tune.pruner=median"], 0.90),
            ("adult", "hist_gbm", ["dataset=adult", "model=hist_gbm", "features=ordinal"], None),
        ]
    else:
        print(f"{SHARED_DATA / 'adult.csv'} is absent: adult skipped", file=sys.stderr)
    print(f"{'dataset':<14} {'model':<10} {'CV ROC AUC':>10} {'test':>7} {'seconds':>8}  target")
    with tempfile.TemporaryDirectory() as outputs:
        for dataset, label, overrides, target in cases:
            cv, test, seconds = cv_and_test(Path(outputs), overrides)
            met = "met" if target is not None and cv >= target else "MISSED"
            verdict = "" if target is None else f">= {target}: {met}"
            print(f"{dataset:<14} {label:<10} {cv:>10.4f} {test:>7.4f} {seconds:>8.1f}  {verdict}",
                  flush=True)


if __name__ == "__main__":
    main()
