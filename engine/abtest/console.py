"""The console summary of ``python -m engine abtest``: a table of variants, one line per
challenger's test, the guardrails, then the verdict."""

from __future__ import annotations

import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.abtest.analysis import ADOPT, CONTROL, REJECT, AbTestResult
from engine.abtest.sequential import MIN_ROWS

COLOURS = {ADOPT: "green", REJECT: "red"}


def print_result(console: Console, result: AbTestResult, log: Path) -> None:
    """Variants, tests, guardrails and verdict of ``result`` read from ``log``."""
    console.rule(f"[bold]abtest[/bold] {log} ({result.metric}, alpha {result.alpha:g})")
    table = Table(show_edge=False, header_style="bold")
    measured = "with outcome" if result.metric == "outcome" else "labelled"
    for heading in ("variant", "rows", measured, result.metric, "latency p99 (ms)",
                    "error rate"):
        table.add_column(heading, justify="left" if heading == "variant" else "right")
    for variant in result.variants:
        control = variant.name == result.control and variant.name != CONTROL
        table.add_row(variant.name + (" (control)" if control else ""),
                      str(variant.rows), str(variant.measured), _number(variant.metric),
                      _number(variant.latency_p99, ".1f"), f"{variant.error_rate:.1%}")
    console.print(table)
    for comparison in result.comparisons:
        test = comparison.test
        evidence = (f"always-valid interval {_number(test.low)} to {_number(test.high)}, "
                    f"p = {test.p_value:.3g} over {test.looks} looks" if test.looks else
                    f"no interval before {MIN_ROWS} rows with an outcome per variant")
        console.print(f"{comparison.challenger} - {result.control}: {_number(test.difference)} "
                      f"({evidence}); [{COLOURS.get(comparison.verdict, 'yellow')}]"
                      f"{comparison.verdict}[/]", highlight=False, soft_wrap=True)
    ratio = result.sample_ratio
    if ratio is None:
        console.print("sample ratio: not checked (declare the split with --split 90/10)",
                      soft_wrap=True)
    else:
        observed = ", ".join(f"{name} {count}" for name, count in ratio.observed.items())
        expected = ", ".join(f"{count:.0f}" for count in ratio.expected.values())
        console.print(f"sample ratio: {observed} {ratio.unit} against {expected} expected, "
                      f"p = {ratio.p_value:.3g}"
                      f"{' [red]mismatch[/red]' if ratio.mismatch else ' ok'}",
                      highlight=False, soft_wrap=True)
    for name, shadow in result.shadows.items():
        console.print(f"{name}: answered {shadow.coverage:.1%} of live rows, "
                      f"{shadow.changed:.1%} of them differently", highlight=False, soft_wrap=True)
    colour = COLOURS.get(result.verdict, "yellow")
    console.print(f"[bold {colour}]{result.verdict}[/]: {result.reason}", highlight=False,
                  soft_wrap=True)


def _number(value: float | None, spec: str = ".4f") -> str:
    if value is None or math.isnan(value):
        return "–"
    return format(value, spec) if math.isfinite(value) else ("-inf" if value < 0 else "inf")
