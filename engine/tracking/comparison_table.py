"""The console view of ``engine compare``: one row per paired test, then the verdict; with
``--on``, the two models' scores on the fresh rows first."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from engine.deploy.bundle import Bundle
from engine.evaluation.fresh_comparison import FreshComparison
from engine.evaluation.run_comparison import Comparison


def print_comparison(console: Console, comparison: Comparison, alpha: float) -> None:
    first, second = comparison.first, comparison.second
    console.print(f"first:  {first.path} ({first.record.model})")
    console.print(f"second: {second.path} ({second.record.model})")
    console.print(f"same data, test rows and CV folds; metric {comparison.metric}")
    table = Table(show_edge=False, header_style="bold")
    for column in ("test", "first", "second", "difference", f"{1 - alpha:.0%} interval",
                   "p-value", "detail"):
        table.add_column(column, justify="left" if column in ("test", "detail") else "right")
    for result, first_value, second_value in comparison.results:
        interval = ("-" if math.isnan(result.low)
                    else f"[{result.low:+.4f}, {result.high:+.4f}]")
        label = "accuracy, McNemar" if result.test.startswith("McNemar") else result.test
        table.add_row(label, _number(first_value), _number(second_value),
                      f"{result.difference:+.4f}", interval, f"{result.p_value:.3g}",
                      result.detail)
    console.print(table)
    console.print(f"verdict: {comparison.verdict}")


def print_fresh_comparison(console: Console, comparison: FreshComparison,
                           models: Mapping[str, tuple[str, Bundle, dict[str, Any]]],
                           rows: str) -> None:
    """``models``: ``{"A": (the reference given, its bundle, its lineage), "B": ...}``."""
    for side, (reference, bundle, lineage) in models.items():
        registered = lineage.get("registered")
        where = (f"version {registered['version']} of the registry, {lineage['run_dir']}, "
                 if registered else "")
        console.print(f"{side}: {reference} ({where}{bundle.metadata.model})", highlight=False,
                      soft_wrap=True)
    console.print(f"on {comparison.rows} rows of {rows}", highlight=False, soft_wrap=True)
    scores = Table(show_edge=False, header_style="bold")
    for column in ("metric", "rows", "A", "B", "B - A", f"{1 - comparison.alpha:.0%} interval",
                   f"p (B - A > {comparison.margin:g})"):
        scores.add_column(column, justify="left" if column == "metric" else "right")
    low, high = comparison.interval
    scores.add_row(comparison.metric, str(comparison.rows), _number(comparison.first),
                   _number(comparison.second), f"{comparison.difference:+.4f}",
                   f"[{low:+.4f}, {high:+.4f}]", f"{comparison.p_value:.3g}")
    console.print(scores)
    tests = Table(show_edge=False, header_style="bold")
    for column in ("paired test", "two-sided p", "detail"):
        tests.add_column(column, justify="right" if column == "two-sided p" else "left")
    for result in comparison.tests:
        label = "accuracy, McNemar" if result.test.startswith("McNemar") else result.test
        detail = result.detail.replace("the first", "A").replace("the second", "B")
        tests.add_row(label, f"{result.p_value:.3g}", detail)
    console.print(tests)
    console.print(f"verdict: {comparison.verdict}", highlight=False)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
