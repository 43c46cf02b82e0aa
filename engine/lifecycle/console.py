"""What a step prints: the triggers (fired or not, with their values), the window, the gate's
table and the decision with the alias move."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from engine.lifecycle.triggers import TriggerResult


def print_triggers(console: Console, results: Sequence[TriggerResult],
                   pending: Sequence[str]) -> None:
    for result in results:
        mark = "[green]fired[/green]" if result.fired else "not fired"
        console.print(f"trigger {result.name}: {mark} ({result.detail})", highlight=False)
    for name in pending:
        console.print(f"trigger {name}: fired earlier, pending while the step waited for labels",
                      highlight=False)


def print_window(console: Console, window: dict[str, Any]) -> None:
    times = window["time_range"]
    span = f", {times['first']} to {times['last']}" if times["first"] else ""
    console.print(f"window: {window['rows']} rows ({window['labelled']} labelled){span}; "
                  f"training on {window['training_rows']}, gate on the newest "
                  f"{window['gate_rows']}; fingerprint {window['fingerprint'][:12]}",
                  highlight=False)


def print_gate(console: Console, evidence: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for column in ("check", "champion", "challenger", "result"):
        table.add_column(column)
    low, high = evidence["interval"]
    table.add_row(f"{evidence['metric']} on {evidence['rows']} rows",
                  f"{evidence['champion']:.4f}", f"{evidence['challenger']:.4f}",
                  f"{evidence['difference']:+.4f} [{low:+.4f}, {high:+.4f}], "
                  f"p = {evidence['p_value']:.3g}")
    for test in evidence["tests"][1:]:
        table.add_row(test["test"], "", "", f"p = {test['p_value']:.3g}")
    latency = evidence.get("latency")
    if latency is not None:
        table.add_row("latency (median ms)", f"{latency['champion_ms']:.2f}",
                      f"{latency['challenger_ms']:.2f}",
                      f"ratio {latency['ratio']:.2f} (budget {latency['budget']:g}) "
                      + ("ok" if latency["ok"] else "FAILS"))
    fairness = evidence.get("fairness")
    if fairness is not None:
        table.add_row("fairness limits", "", "", "ok" if fairness["ok"]
                      else "FAILS: " + "; ".join(fairness["failures"]))
    console.print(table)
