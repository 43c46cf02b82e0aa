"""The dynamic loop against a static deployment, on adult.csv replayed as a drifting stream.

    python tests/bench/bench_lifecycle.py [--seeds 20] [--quick] [--workers 2] [--resume]

Each seed shuffles ../shared/data/adult.csv (tests/bench/lifecycle_stream.py). The first 4,400
rows are the history. Version 1 of ``adult_stream`` trains on them: hist_gbm, a holdout split,
no tuning, report off. It is both the static model and the first champion, trained on as many
rows as each challenger. The next 44,000 rows arrive in 20 batches of 2,200; the last 442 are
left out. The seed sets the order and the models' seed. The concept
changes at batch 10 (``lifecycle_stream.RULE``, printed too):

    From batch 10 on, for people with age < 35 (43.0 % of adult's rows), class = >50K exactly
    when hours-per-week >= 45 and education-num >= 10 (13.2 % of them; adult's own labels make
    10.5 % of them >50K), otherwise <=50K. Everyone else keeps adult's label. 6.6 % of all
    labels change.

- **static**: version 1 predicts every batch.
- **dynamic**: each batch is first predicted by the model that is ``champion`` when it arrives
  (prequential). Then it is appended to the source folder, and ``engine.lifecycle.run_step``
  runs in this process. The trigger is new_rows, every 2,200 rows, so every step retrains. The
  window is the last 6,600 rows. The gate holds out the newest 2,200 and scores ROC AUC at
  alpha 0.05 and margin 0.005. The challenger trains on the other 4,400, and the gate decides
  whether ``champion`` moves.

Three streams per seed, each with its own registry file, state folder and source folder. The
steady stream runs from the start. The crippled one is a copy of its folder made before the
first batch. The drifting one is a copy made before batch 10: up to there both streams hold the
same rows, so those steps run once.

- **drift**: the stream with the change. Figure: ROC AUC pooled over batches 10-19, dynamic
  minus static, per seed. Its mean must have a 95 % paired-bootstrap interval over the seeds
  that lies above 0.
- **steady**: the same replay without the change. Figure: the share of the 20 retraining steps
  that promoted a challenger (target <= 5 %).
- **crippled**: the steady stream's first 3 steps, with the labels of every row a challenger
  trains on shuffled: the history's once version 1 has trained, each batch's once its step's
  gate has used them. The gate's rows (the newest batch) keep theirs. Figure: crippled
  challengers promoted (target 0).

Overhead: for each retraining step, ``StepOutcome.timing`` total minus train (triggers, window,
gate, registry), as a share of the step's total. The target is at most 10 % for each step; the
median and the maximum are printed, and the median seconds beyond training with the training
time they would be 10 % of. Curves of ROC AUC and accuracy per batch (mean over seeds,
95 % bootstrap band) and the share of seeds promoting at each step go to
outputs/bench/lifecycle/curves.png, every figure to outputs/bench/lifecycle/figures.json. Each
seed's records (scores per batch, each step's outcome, timing and gate evidence) are written to
outputs/bench/lifecycle/seeds/ as it finishes; ``--resume`` keeps those of an interrupted run
with the same settings.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from common import EVALUATION_OFF, REPO, SHARED_DATA, engine_command, timed_run
from lifecycle_stream import (
    BATCH_ROWS,
    BATCHES,
    CHANGE_AT,
    POSITIVE,
    RULE,
    TARGET,
    replay,
    rule_shares,
    write_part,
)

if TYPE_CHECKING:
    from engine.deploy.bundle import Bundle

NAME = "adult_stream"
CHAMPION = "champion"
SCENARIOS = ("drift", "steady", "crippled")
CRIPPLED_STEPS = 3
WINDOW_ROWS = 3 * BATCH_ROWS
HISTORY_ROWS = WINDOW_ROWS - BATCH_ROWS
"""The first champion trains on as many rows as each challenger (the window less the gate's)."""
GATE = {"metric": "roc_auc", "alpha": 0.05, "margin": 0.005, "holdout_rows": BATCH_ROWS}
TRAINING = ("dataset=adult", "model=hist_gbm", "split=holdout", *EVALUATION_OFF)
"""The champion's config; every challenger retrains with it."""
TARGETS = {"gain": 0.0, "false_promotions": 0.05, "crippled": 0, "overhead": 0.10}
OUTPUT = REPO / "outputs" / "bench" / "lifecycle"
START = datetime(2026, 1, 1, tzinfo=UTC)
"""The replay's clock: batch k arrives k hours after it."""
SETTINGS = {"rule": RULE, "history_rows": HISTORY_ROWS, "training": list(TRAINING),
            "window_rows": WINDOW_ROWS, "gate": GATE, "trigger": f"new_rows every {BATCH_ROWS}",
            "crippled_steps": CRIPPLED_STEPS}
"""What a seed's records depend on: a saved seed run with other settings is run again."""
SEEDS = OUTPUT / "seeds"


def lifecycle_overrides(source: Path, state: Path) -> list[str]:
    """The loop as the benchmark declares it (see the module's docstring)."""
    gate = [f"lifecycle.gate.{key}={value}" for key, value in GATE.items()]
    return [f"lifecycle.source={{type: files, path: '{source}/*.csv'}}",
            "lifecycle.window.kind=last_rows", f"lifecycle.window.rows={WINDOW_ROWS}",
            "lifecycle.triggers.when=[new_rows]", f"lifecycle.triggers.every_rows={BATCH_ROWS}",
            *gate, f"lifecycle.state_dir={state}"]


def train_first_champion(history: Path, registry: Path, seed: int, folder: Path) -> None:
    """Version 1 of :data:`NAME`, trained on the history by ``python -m engine`` (which writes
    the resolved config that every challenger retrains with) and registered as champion."""
    timed_run(engine_command(
        *TRAINING, f"dataset.path={history}", f"seed={seed}", "deploy=registry",
        f"deploy.registry.name={NAME}", f"deploy.registry.alias={CHAMPION}",
        f"deploy.registry.path={registry}", f"paths.output_dir={folder / 'outputs'}",
        f"hydra.run.dir={folder / 'first'}"))


def positive_probability(bundle: Bundle, rows: pd.DataFrame) -> np.ndarray:
    """P(class = >50K) for each row, as ``predict`` computes it."""
    from engine.deploy.batch_predict import check_rows, predict_features

    features, _ = check_rows(bundle, rows)
    return predict_features(bundle, features)[f"proba_{POSITIVE}"].to_numpy()


def scores(truth: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """ROC AUC and accuracy (at the bundle's 0.5 threshold) of one side on some rows."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    return {"roc_auc": float(roc_auc_score(truth, probability)),
            "accuracy": float(accuracy_score(truth, probability >= 0.5))}


def gate_evidence(decision: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the gate measured at a step: the difference, its p-value and the latency ratio."""
    if decision is None:
        return None
    gate = decision["gate"]
    return {"champion": gate["champion"], "challenger": gate["challenger"],
            "difference": gate["difference"], "p_value": gate["p_value"],
            "latency_ratio": (gate.get("latency") or {}).get("ratio"),
            "reasons": decision["reasons"]}


def shuffled_labels(rows: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """``rows`` with their labels permuted: a challenger trained on them learns nothing."""
    return rows.assign(**{TARGET: rng.permutation(rows[TARGET].to_numpy())})


class StreamLoop:
    """One stream going through the lifecycle loop, in a folder of its own (source files,
    registry, state), with each batch's scores and each step's outcome."""

    def __init__(self, folder: Path, seed: int, static: Bundle, *,
                 batches: Sequence[dict[str, Any]] = (),
                 steps: Sequence[dict[str, Any]] = ()) -> None:
        from engine.deploy.registry import Registry
        from engine.lifecycle.settings import load_lifecycle

        self.folder, self.seed, self.static = folder, seed, static
        self.source = folder / "source"
        self.registry = Registry(folder / "registry.db")
        self.settings = load_lifecycle(f"{NAME}@{CHAMPION}",
                                       lifecycle_overrides(self.source, folder / "state"),
                                       registry=self.registry.path)
        self.loaded: dict[int, Bundle] = {1: static}  # the static model is version 1
        self.batches = list(batches)
        self.steps = [{**step, "inherited": True} for step in steps]

    @classmethod
    def started(cls, folder: Path, seed: int, history: pd.DataFrame) -> StreamLoop:
        """A loop whose champion, version 1, trained on ``history``."""
        from engine.deploy.bundle import load_bundle

        train_first_champion(write_part(folder / "source", 0, history),
                             folder / "registry.db", seed, folder)
        return cls(folder, seed, load_bundle(folder / "first"))

    def forked(self, folder: Path) -> StreamLoop:
        """A copy of this loop as it stands (files, registry, state and records) in
        ``folder``: two streams that share their first batches run those steps once."""
        shutil.copytree(self.folder, folder)
        return StreamLoop(folder, self.seed, self.static, batches=self.batches, steps=self.steps)

    def rewrite(self, arrival: int, rows: pd.DataFrame) -> None:
        """Replace a part of the stream already in the source folder."""
        write_part(self.source, arrival, rows)

    def feed(self, index: int, batch: pd.DataFrame) -> None:
        """Batch ``index`` arrives: the static model and the champion predict it, then it joins
        the source and the loop takes its step."""
        from rich.console import Console

        from engine.deploy.batch_predict import read_rows
        from engine.lifecycle.step import run_step

        rows = read_rows(write_part(self.source, index + 1, batch), self.static.metadata.reading)
        truth = rows[TARGET].eq(POSITIVE).to_numpy()
        version, champion = self._champion()
        static = positive_probability(self.static, rows)
        dynamic = static if champion is self.static else positive_probability(champion, rows)
        self.batches.append({"batch": index, "champion": version, "truth": truth,
                             "static": static, "dynamic": dynamic,
                             "scores": {"static": scores(truth, static),
                                        "dynamic": scores(truth, dynamic)}})
        outcome = run_step(self.settings, registry=self.registry, console=Console(quiet=True),
                           now=START + timedelta(hours=index))
        self.steps.append({"batch": index, "status": outcome.status, "fired": outcome.fired,
                           "message": outcome.message, "timing": outcome.timing,
                           "retrained": outcome.challenger_run is not None,
                           "promoted": outcome.status == "promoted", "inherited": False,
                           "gate": gate_evidence(outcome.decision)})

    def record(self, scenario: str) -> dict[str, Any]:
        """The stream's figures: each batch's scores, both sides' scores pooled over the
        batches from the change on (when it reached them), and each step's outcome."""
        after = [batch for batch in self.batches if batch["batch"] >= CHANGE_AT]
        pooled = {side: scores(np.concatenate([batch["truth"] for batch in after]),
                               np.concatenate([batch[side] for batch in after]))
                  for side in ("static", "dynamic")} if after else None
        return {"seed": self.seed, "scenario": scenario, "after_change": pooled,
                "batches": [{key: batch[key] for key in ("batch", "champion", "scores")}
                            for batch in self.batches],
                "steps": self.steps}

    def _champion(self) -> tuple[int, Bundle]:
        """The champion's version and its bundle (each version loaded once)."""
        from engine.deploy.bundle import load_bundle

        found = self.registry.resolve(f"{NAME}@{CHAMPION}")
        if found.version not in self.loaded:
            self.loaded[found.version] = load_bundle(Path(found.run_dir))
        return found.version, self.loaded[found.version]


def run_seed(seed: int) -> list[dict[str, Any]]:
    """One seed's three streams. The steady stream runs from the start; the crippled one forks
    from it before the first batch, the drifting one before batch 10 (up to there the two are
    the same rows, so the same steps)."""
    adult = pd.read_csv(SHARED_DATA / "adult.csv")
    unchanged, changed = (replay(adult, seed, change=change, history_rows=HISTORY_ROWS)
                          for change in (False, True))
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix=f"bench_lifecycle_{seed}_") as scratch:
        steady = StreamLoop.started(Path(scratch) / "steady", seed, unchanged.history)
        crippled = steady.forked(Path(scratch) / "crippled")
        crippled.rewrite(0, shuffled_labels(unchanged.history, rng))
        for index, batch in enumerate(unchanged.batches[:CRIPPLED_STEPS]):
            crippled.feed(index, batch)
            crippled.rewrite(index + 1, shuffled_labels(batch, rng))  # the gate has used them
        for index, batch in enumerate(unchanged.batches[:CHANGE_AT]):
            steady.feed(index, batch)
        drift = steady.forked(Path(scratch) / "drift")
        for index in range(CHANGE_AT, BATCHES):
            steady.feed(index, unchanged.batches[index])
            drift.feed(index, changed.batches[index])
        return [drift.record("drift"), steady.record("steady"), crippled.record("crippled")]


def mean_interval(values: np.ndarray) -> tuple[float, float]:
    """The 95 % percentile-bootstrap interval of the mean of ``values`` (paired values'
    differences, or one batch's scores over the seeds)."""
    from scipy.stats import bootstrap

    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    found = bootstrap((values,), np.mean, n_resamples=10_000, method="percentile",
                      random_state=0).confidence_interval
    return float(found.low), float(found.high)


def curve(records: list[dict[str, Any]], side: str, metric: str) -> dict[str, list[float]]:
    """One side's metric per batch: the mean over the seeds and its 95 % bootstrap band."""
    table = np.array([[batch["scores"][side][metric] for batch in record["batches"]]
                      for record in records])
    bands = [mean_interval(column) for column in table.T]
    return {"mean": table.mean(axis=0).tolist(), "low": [low for low, _ in bands],
            "high": [high for _, high in bands]}


def overhead(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Each retraining step's time beyond training (a step two streams share counted once):
    its share of the step's time, and the median seconds of each part."""
    timings = [step["timing"] for record in results for step in record["steps"]
               if step["retrained"] and not step["inherited"]]
    shares = [(timing["total"] - timing["train"]) / timing["total"] for timing in timings]
    return {"median": statistics.median(shares), "max": max(shares), "steps": len(shares),
            "seconds": {part: statistics.median(timing[part] for timing in timings)
                        for part in ("total", "train", "triggers", "window", "gate",
                                     "registry")},
            "beyond_training_seconds": statistics.median(
                timing["total"] - timing["train"] for timing in timings),
            "latency_rejections": sum(
                any("latency" in reason for reason in step["gate"]["reasons"])
                for record in results for step in record["steps"]
                if step["gate"] and not step["inherited"])}


def figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The benchmark's figures, from every seed's streams."""
    by = {scenario: [r for r in results if r["scenario"] == scenario] for scenario in SCENARIOS}
    drift = by["drift"]
    after = {side: [record["after_change"][side] for record in drift]
             for side in ("static", "dynamic")}
    gain = np.array([d["roc_auc"] - s["roc_auc"] for s, d in zip(*after.values(), strict=True)])
    steady = [step for record in by["steady"] for step in record["steps"] if step["retrained"]]
    crippled = [step for record in by["crippled"] for step in record["steps"]]
    return {
        "after_change": {side: {metric: float(np.mean([s[metric] for s in values]))
                                for metric in ("roc_auc", "accuracy")}
                         for side, values in after.items()},
        "gain": {"per_seed": gain.tolist(), "mean": float(gain.mean()),
                 "interval": mean_interval(gain)},
        "false_promotions": {"promoted": sum(step["promoted"] for step in steady),
                             "retraining_steps": len(steady)},
        "crippled": {"promoted": sum(step["promoted"] for step in crippled),
                     "retrained": sum(step["retrained"] for step in crippled),
                     "steps": len(crippled)},
        "overhead": overhead(results),
        "curves": {metric: {side: curve(drift, side, metric) for side in ("static", "dynamic")}
                   for metric in ("roc_auc", "accuracy")},
        "promoted_share": {scenario: np.mean([[step["promoted"] for step in record["steps"]]
                                              for record in by[scenario]], axis=0).tolist()
                           for scenario in ("drift", "steady")},
    }


def plot(found: dict[str, Any], seeds: int, path: Path) -> Path:
    """ROC AUC and accuracy per batch, static and dynamic (mean over seeds, 95 % band), and
    the share of seeds whose step promoted a challenger."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from engine.tracking.files import write_atomically

    batches = np.arange(BATCHES)
    figure, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True,
                                gridspec_kw={"height_ratios": [3, 3, 1.5]})
    for axis, metric in zip(axes, ("roc_auc", "accuracy"), strict=False):
        for side, colour in (("static", "tab:grey"), ("dynamic", "tab:blue")):
            line = found["curves"][metric][side]
            axis.plot(batches, line["mean"], marker="o", color=colour, label=side)
            axis.fill_between(batches, line["low"], line["high"], color=colour, alpha=0.25)
        axis.axvline(CHANGE_AT - 0.5, color="tab:red", linestyle="--", label="concept change")
        axis.set_ylabel(f"{metric} (prequential)")
        axis.legend(loc="lower left")
    axes[0].set_title(f"adult.csv as a stream, {seeds} seeds: mean and 95 % bootstrap band",
                      fontsize=10)
    for scenario, colour, offset in (("drift", "tab:blue", -0.2), ("steady", "tab:orange", 0.2)):
        axes[2].bar(batches + offset, found["promoted_share"][scenario], width=0.4,
                    color=colour, label=f"{scenario} stream")
    axes[2].set_ylabel("seeds promoting")
    axes[2].set_xlabel("batch (each step sees the batch after it is scored)")
    axes[2].set_xticks(batches)
    axes[2].legend(loc="upper left", fontsize=8)
    figure.text(0.01, 0.005, "Change: " + RULE, fontsize=7, wrap=True)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    write_atomically(path, lambda temporary: figure.savefig(temporary, dpi=110))
    plt.close(figure)
    return path


def verdicts(found: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """Each figure as printed: what, as measured, the target, met or not."""
    low, high = found["gain"]["interval"]
    promoted = found["false_promotions"]
    share = promoted["promoted"] / max(promoted["retraining_steps"], 1)
    crippled = found["crippled"]
    overhead = found["overhead"]
    return [
        ("ROC AUC gain after the change (dynamic - static)",
         f"{found['gain']['mean']:+.4f} [{low:+.4f}, {high:+.4f}]", "interval > 0",
         low > TARGETS["gain"]),
        ("false promotions (steady stream)",
         f"{share:.1%} ({promoted['promoted']} of {promoted['retraining_steps']})", "<= 5 %",
         share <= TARGETS["false_promotions"]),
        ("crippled challengers promoted",
         f"{crippled['promoted']} of {crippled['retrained']}", "0",
         crippled["promoted"] == TARGETS["crippled"] and crippled["retrained"] > 0),
        ("overhead beyond training, per step",
         f"median {overhead['median']:.1%}, max {overhead['max']:.1%}", "<= 10 % (each)",
         overhead["max"] <= TARGETS["overhead"]),
    ]


def finished_seed(seed: int) -> list[dict[str, Any]] | None:
    """A seed's records from an earlier run with the same settings (None: run it)."""
    from engine.tracking.files import read_json

    path = SEEDS / f"seed-{seed:02d}.json"
    if not path.is_file():
        return None
    saved = read_json(path)
    return saved["records"] if saved.get("settings") == SETTINGS else None


def run_seeds(seeds: int, workers: int, *, resume: bool) -> list[dict[str, Any]]:
    """Every seed's records, ``workers`` seeds at a time. Each seed's are written as it
    finishes; with ``resume``, those an earlier run with the same settings wrote are kept."""
    from engine.tracking.files import write_json

    records = {seed: finished_seed(seed) if resume else None for seed in range(seeds)}
    missing = [seed for seed, found in records.items() if found is None]
    print(f"{seeds} seeds ({seeds - len(missing)} done before) x {len(SCENARIOS)} streams on "
          f"{workers} workers ...", flush=True)
    started = time.perf_counter()
    # One thread per worker (the engine's thread budget reads OMP_NUM_THREADS): OpenMP threads
    # that outnumber the free cores spin, and made hist_gbm five times slower on a busy machine.
    os.environ["OMP_NUM_THREADS"] = "1"
    with ProcessPoolExecutor(workers) as pool:
        running = {pool.submit(run_seed, seed): seed for seed in missing}
        for done in as_completed(running):
            seed = running[done]
            records[seed] = done.result()
            write_json(SEEDS / f"seed-{seed:02d}.json",
                       {"settings": SETTINGS, "records": records[seed]})
            print(f"  seed {seed} done at {time.perf_counter() - started:.0f} s", flush=True)
    return [record for seed in range(seeds) for record in records[seed] or []]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="2 seeds: a smoke run")
    parser.add_argument("--workers", type=int, default=2, help="seeds run at once")
    parser.add_argument("--resume", action="store_true",
                        help="keep the seeds an interrupted run with the same settings finished")
    options = parser.parse_args()
    seeds = 2 if options.quick else options.seeds
    from engine.tracking.files import write_json

    adult = pd.read_csv(SHARED_DATA / "adult.csv")
    shares = rule_shares(adult)
    print(f"concept change: {RULE}.")
    print(f"  the subgroup is {shares['subgroup']:.1%} of adult's rows; the rule labels "
          f"{shares['rule_positive']:.1%} of them {POSITIVE} (adult: "
          f"{shares['adult_positive']:.1%}); {shares['flipped']:.1%} of all labels change.")
    started = time.perf_counter()
    found = figures(run_seeds(seeds, options.workers, resume=options.resume))
    OUTPUT.mkdir(parents=True, exist_ok=True)
    picture = plot(found, seeds, OUTPUT / "curves.png")
    command = shlex.join(["python", *sys.argv])
    rows = verdicts(found)
    write_json(OUTPUT / "figures.json", {
        "command": command, "rule": RULE, "rule_shares": shares, "seeds": seeds,
        "settings": SETTINGS, "verdicts": rows,
        "figures": {key: value for key, value in found.items() if key != "curves"},
        "curves": found["curves"]})
    after = found["after_change"]
    print(f"\nbatches {CHANGE_AT}-{BATCHES - 1}, pooled, mean over seeds: ROC AUC static "
          f"{after['static']['roc_auc']:.4f}, dynamic {after['dynamic']['roc_auc']:.4f}; "
          f"accuracy static {after['static']['accuracy']:.4f}, dynamic "
          f"{after['dynamic']['accuracy']:.4f}")
    seconds, beyond = found["overhead"]["seconds"], found["overhead"]["beyond_training_seconds"]
    share = TARGETS["overhead"]
    print(f"retraining steps: {found['overhead']['steps']}, median seconds: "
          + ", ".join(f"{part} {value:.2f}" for part, value in seconds.items())
          + f"; beyond training {beyond:.2f}, which is 10 % of a step whose training takes "
          f"{beyond * (1 - share) / share:.0f} s; steps rejected for latency: "
          f"{found['overhead']['latency_rejections']}")
    print(f"all in {time.perf_counter() - started:.0f} s\n")
    print(f"{'figure':<50} {'measured':<34} {'target':<16} verdict")
    for what, measured, target, met in rows:
        print(f"{what:<50} {measured:<34} {target:<16} {'PASS' if met else 'MISS'}")
    print(f"\nplot: {picture.relative_to(REPO)}; figures: "
          f"{(OUTPUT / 'figures.json').relative_to(REPO)}")
    print(f"command: {command}")


if __name__ == "__main__":
    main()
