"""The sequential test of ``abtest`` on simulated experiments, peeked at after every batch.

From the repository root:

    python tests/bench/bench_abtest.py [--runs 500] [--looks 40] [--seed 0]

Both scenarios are accuracy-per-row experiments on a 50/50 split (each row right or wrong,
Bernoulli), looked at after each of ``--looks`` equal batches, the horizon twice the
fixed-horizon sample size for 80 % power on a 2-point effect (0.80 against 0.82, the standard
two-proportion formula at alpha 0.05):

- A/A under peeking: both variants at 0.80; the share of runs ever declared significant
  (target: at most alpha plus simulation error, 1.96 binomial standard errors), with its exact
  95 % interval; beside it, the same looks judged by a fixed-horizon z-test (what peeking at an
  ordinary p-value does);
- power: 0.80 against 0.82; the share of runs that detect it (target: at least 80 %), the median
  rows per variant when the test stopped (runs that never stopped counted at the horizon)
  beside the fixed-horizon sample size, and the coverage of the confidence sequence.

Both are also run through the command's own test (``sequential_test`` over the rows in order,
looked at after every row, each row assigned at random), on the same horizon.

Seeded, simulated with numpy (``engine.abtest.simulation``); every figure goes to
outputs/bench/abtest/figures.json.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from common import REPO

from engine.abtest.sequential import EFFECT_SD, sequential_test
from engine.abtest.simulation import binomial_interval, fixed_horizon_rows, simulate
from engine.tracking.files import write_json

OUTPUT = REPO / "outputs" / "bench" / "abtest"
CONTROL, CHALLENGER, ALPHA, POWER = 0.80, 0.82, 0.05, 0.80


def naive_peeking(*, runs: int, looks: int, batch_rows: int, seed: int) -> float:
    """The share of A/A runs a fixed-horizon two-proportion z-test declares significant at
    some look, when it is looked at after every batch."""
    rng = np.random.default_rng(seed)
    half = batch_rows // 2
    seen = half * np.arange(1, looks + 1)
    right = rng.binomial(half, CONTROL, (2, runs, looks)).cumsum(axis=2) / seen
    pooled = right.mean(axis=0)
    z = (right[1] - right[0]) / np.sqrt(pooled * (1 - pooled) * 2 / seen)
    return float((np.abs(z) > 1.959964).any(axis=1).mean())


def every_row(*, runs: int, rows: int, challenger: float, seed: int) -> float:
    """The share of runs in which the command's test (:func:`sequential_test`, looked at after
    every row, rows assigned 50/50 at random) rejects the null of no difference."""
    rng = np.random.default_rng(seed)
    found = 0
    for _ in range(runs):
        arm = rng.random(rows) < 0.5
        values = (rng.random(rows) < np.where(arm, challenger, CONTROL)).astype(float)
        found += sequential_test(values, arm, alpha=ALPHA).p_value < ALPHA
    return found / runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--looks", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    runs, looks = options.runs, options.looks
    fixed = fixed_horizon_rows(CONTROL, CHALLENGER, alpha=ALPHA, power=POWER)
    batch_rows = 2 * math.ceil(2 * fixed / looks)  # both variants' rows per batch
    started = time.perf_counter()
    null = simulate(runs=runs, looks=looks, batch_rows=batch_rows, control=CONTROL,
                    challenger=CONTROL, alpha=ALPHA, seed=options.seed)
    effect = simulate(runs=runs, looks=looks, batch_rows=batch_rows, control=CONTROL,
                      challenger=CHALLENGER, alpha=ALPHA, seed=options.seed + 1)
    peeked = naive_peeking(runs=runs, looks=looks, batch_rows=batch_rows, seed=options.seed + 2)
    stream_null = every_row(runs=runs, rows=looks * batch_rows, challenger=CONTROL,
                            seed=options.seed + 3)
    stream_power = every_row(runs=runs, rows=looks * batch_rows, challenger=CHALLENGER,
                             seed=options.seed + 4)
    seconds = time.perf_counter() - started
    false_share = float(null.significant.mean())
    false_low, false_high = binomial_interval(int(null.significant.sum()), runs)
    allowed = ALPHA + 1.96 * math.sqrt(ALPHA * (1 - ALPHA) / runs)
    power = float(effect.significant.mean())
    power_low, power_high = binomial_interval(int(effect.significant.sum()), runs)
    median_stop = float(np.median(effect.stopped_at)) / 2  # per variant, on a 50/50 split
    horizon = effect.horizon // 2
    rows = [
        ("A/A ever significant, 40 looks (mSPRT)",
         f"{false_share:.3f} [{false_low:.3f}, {false_high:.3f}]", f"<= {allowed:.3f}",
         false_share <= allowed),
        ("A/A ever significant, fixed-horizon z-test peeked", f"{peeked:.3f}", "(contrast)",
         None),
        ("A/A ever significant, the command's test at every row", f"{stream_null:.3f}",
         f"<= {allowed:.3f}", stream_null <= allowed),
        ("A/A confidence sequence covers 0 at every look", f"{null.covered.mean():.3f}",
         f">= {1 - ALPHA:.2f}", null.covered.mean() >= 1 - ALPHA),
        (f"power, {CONTROL:.2f} vs {CHALLENGER:.2f}, horizon {horizon} per variant",
         f"{power:.3f} [{power_low:.3f}, {power_high:.3f}]", f">= {POWER:.2f}", power >= POWER),
        ("median rows per variant at stop (never: horizon)", f"{median_stop:.0f}",
         f"fixed n {fixed}", None),
        ("power, the command's test at every row", f"{stream_power:.3f}", f">= {POWER:.2f}",
         stream_power >= POWER),
        ("effect confidence sequence covers 0.02 throughout", f"{effect.covered.mean():.3f}",
         f">= {1 - ALPHA:.2f}", effect.covered.mean() >= 1 - ALPHA),
    ]
    command = shlex.join(["python", *sys.argv])
    write_json(OUTPUT / "figures.json", {
        "command": command, "runs": runs, "looks": looks, "seed": options.seed,
        "alpha": ALPHA, "control": CONTROL, "challenger": CHALLENGER,
        "tau": f"{EFFECT_SD} of the pooled standard deviation",
        "fixed_horizon_per_variant": fixed, "horizon_per_variant": horizon,
        "aa": {"significant_share": false_share, "interval95": [false_low, false_high],
               "allowed": allowed, "naive_z_peeking_share": peeked,
               "every_row_significant_share": stream_null,
               "coverage": float(null.covered.mean())},
        "power": {"detected_share": power, "interval95": [power_low, power_high],
                  "median_stop_per_variant": median_stop,
                  "median_stop_of_stopped_per_variant":
                      float(np.median(effect.stopped_at[effect.significant])) / 2
                      if effect.significant.any() else None,
                  "every_row_detected_share": stream_power,
                  "coverage": float(effect.covered.mean())},
        "seconds": seconds})
    print(f"{runs} runs x {looks} looks of {batch_rows} rows each scenario, in {seconds:.2f} s\n")
    print(f"{'figure':<56} {'measured':<24} {'target':<14} verdict")
    for what, measured, target, met in rows:
        verdict = "" if met is None else ("PASS" if met else "MISS")
        print(f"{what:<56} {measured:<24} {target:<14} {verdict}")
    print(f"\nfigures: {(OUTPUT / 'figures.json').relative_to(REPO)}\ncommand: {command}")


if __name__ == "__main__":
    main()
