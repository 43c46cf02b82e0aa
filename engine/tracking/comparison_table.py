"""The console view of ``engine compare``: one row per paired test, then the verdict."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

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


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
