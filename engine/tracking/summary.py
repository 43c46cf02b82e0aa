"""What the console shows: a line per stage and a one-screen summary at the end."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from engine.tracking.evaluation_summary import print_evaluation
from engine.tracking.records import CVScores, Interval, MetricsRecord, RunRecord


def make_console(*, stderr: bool = False) -> Console:
    """A console as wide as the terminal, or 160 columns when output goes to a file or pipe.

    Rich would wrap at 80 columns off a terminal, splitting paths that logs are grepped for.
    """
    return Console(width=shutil.get_terminal_size((160, 24)).columns, stderr=stderr)


def metrics_table(metrics: MetricsRecord) -> Table:
    """One row per scorer: CV mean ± std and the held-out test value with its bootstrap
    interval; the primary one first."""
    cv, test, primary, intervals = metrics.cv, metrics.test, metrics.primary, metrics.test_intervals
    table = Table(show_edge=False, header_style="bold")
    table.add_column("metric")
    table.add_column("CV mean ± std", justify="right")
    table.add_column("test", justify="right")
    if intervals:
        confidence = metrics.bootstrap.confidence if metrics.bootstrap else 0.95
        table.add_column(f"test {confidence:.0%} interval", justify="right")
    for name in dict.fromkeys([primary, *cv, *test]):
        label = f"[bold]{name}[/bold] (primary)" if name == primary else name
        row = [label, _cv_text(cv.get(name)), _number(test.get(name))]
        if intervals:
            row.append(_interval_text(intervals.get(name)))
        table.add_row(*row)
    return table


def print_summary(console: Console, record: RunRecord, metrics: MetricsRecord,
                  evaluated: Mapping[str, Any] | None = None) -> None:
    """The closing summary: what ran, on what, where it was written, the scores and the
    evaluation's headlines."""
    data = record.dataset
    console.print()
    console.rule(f"[bold]{record.model}[/bold] on [bold]{data.name}[/bold]")
    console.print(
        f"task {data.task} · {data.rows} rows × {data.columns} columns · "
        f"train {metrics.n_train} / test {metrics.n_test} · seed {record.seed} · "
        f"{record.timing.total_seconds:.1f} s"
    )
    tuning = metrics.tuning
    if tuning:
        console.print(_cv_source(tuning))
    console.print(metrics_table(metrics))
    overfitting = metrics.overfitting
    if overfitting and overfitting.flagged:
        stages = {"train": overfitting.train, "cv": overfitting.cv, "test": overfitting.test}
        scores = " · ".join(f"{stage} {value:.4f}" for stage, value in stages.items()
                            if value is not None)
        has_cv = overfitting.cv is not None
        gap = overfitting.train_vs_cv if has_cv else overfitting.train_vs_test
        console.print(f"[yellow]overfitting[/yellow]: {overfitting.metric} {scores}; training "
                      f"beats {'CV' if has_cv else 'test'} by {gap:.1%} "
                      f"(metrics.overfitting.max_gap={overfitting.max_gap})", highlight=False)
    for warning in record.warnings:
        console.print(
            f"[yellow]{warning.category}[/yellow] ×{warning.count}: {warning.message}",
            highlight=False,
        )
    print_evaluation(console, metrics, evaluated or {})
    for target, export in record.exports.items():
        parity = export["parity"]
        checks = [f"largest difference from the model {parity['max_abs_diff']:.1e}"
                  if parity["max_abs_diff"] is not None else None,
                  f"labels agree {parity['label_agreement']:.1%}"
                  if parity.get("label_agreement") is not None else None]
        console.print(f"export {target}: exports/{export['file']} · "
                      f"{', '.join(check for check in checks if check)} on {parity['rows']} "
                      "held-out rows", highlight=False)
        if "int8" in export:
            console.print(_quantized_line(export["int8"]), highlight=False)
    deployed = record.deploy
    if "rest" in deployed:
        console.print(f"container: {deployed['rest']['directory']} (docker build it; the "
                      f"service listens on port {deployed['rest']['port']})")
    if "registry" in deployed:
        entry = deployed["registry"]
        aliases = "".join(f" @{alias}" for alias in entry["aliases"])
        console.print(f"registered: {entry['name']} version {entry['version']}{aliases}",
                      highlight=False)
    console.print(f"run directory: {record.run_dir}")


def _cv_text(scores: CVScores | None) -> str:
    if scores is None or scores.mean is None or scores.std is None:
        return "-"
    return f"{scores.mean:.4f} ± {scores.std:.4f}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _interval_text(interval: Interval | None) -> str:
    if interval is None or interval.low is None or interval.high is None:
        return "-"
    return f"[{interval.low:.4f}, {interval.high:.4f}]"


def _quantized_line(int8: dict[str, Any]) -> str:
    """What dynamic int8 quantization cost and gained, in one line."""
    measure = "accuracy" if "accuracy" in int8 else "rmse"
    quality = int8.get(measure)
    moved = (f"{measure} {quality['float32']:.4f} -> {quality['int8']:.4f} "
             f"({quality['change']:+.4f}) · " if quality else "")
    sizes = int8["size_bytes"]
    return (f"export onnx int8: exports/{int8['file']} · {moved}"
            f"{sizes['float32'] / sizes['int8']:.1f}x smaller · {int8['rows']} rows "
            f"{int8['batch_ms']['speedup']:.2f}x, one row {int8['row_ms']['speedup']:.2f}x the "
            "float32 speed")


def _cv_source(tuning: Any) -> str:
    """Where the CV scores come from: the picked trial's folds, or the chosen ensemble's."""
    trials = f"{sum(tuning.trials.values())} trials of study {tuning.study_name}"
    ensemble = (tuning.model_extra or {}).get("ensemble") or {}
    if ensemble.get("chosen"):
        return (f"CV: the nested folds of an ensemble of trials "
                f"{', '.join(str(t) for t in ensemble.get('weights', {}))} from {trials}; test: "
                "its members refitted on the training split")
    return (f"CV: trial {tuning.best_trial}'s folds, picked from {trials}; test: its parameters "
            "refitted on the training split")
