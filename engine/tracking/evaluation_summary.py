"""The console lines about the evaluation: the decision threshold, the most important columns,
the worst slices and the fairness verdicts (details in evaluation.json and the report)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console

from engine.tracking.records import MetricsRecord

VERDICT_STYLE = {"ok": "green", "warn": "yellow", "fail": "red"}


def print_evaluation(console: Console, metrics: MetricsRecord,
                     evaluated: Mapping[str, Any]) -> None:
    """A few lines; nothing for what the run did not compute."""
    decision = metrics.decision
    if "calibration" in decision:
        console.print(f"calibration: {decision['calibration']['method']}, fitted on the "
                      "training folds' out-of-fold predictions")
    if "threshold" in decision:
        tuned = decision["threshold"]
        value = "mean cost a row" if tuned["objective"] == "cost" else tuned["objective"]
        sign = -1 if tuned["objective"] == "cost" else 1
        console.print(f"decision threshold: {tuned['threshold']:.3f}, tuned on the CV folds' "
                      f"out-of-fold predictions for {tuned['objective']} ({value} "
                      f"{sign * tuned['value']:.4f}, against {sign * tuned['value_at_0.5']:.4f}"
                      " at 0.5)", highlight=False)
    importance = evaluated.get("importance")
    if importance and importance["columns"]:
        top = ", ".join(f"{item['column']} {item['mean']:.4f}"
                        for item in importance["columns"][:3])
        console.print(f"most important columns (test {importance['scorer']} lost when "
                      f"shuffled): {top}", highlight=False)
    slices = evaluated.get("slices") or []
    if slices:
        primary = metrics.primary
        worst = "; ".join(_slice_text(item, primary) for item in slices[:3])
        console.print(f"worst slices by {primary}: {worst}", highlight=False)
    for grouping in (evaluated.get("fairness") or {}).get("groupings", []):
        measures = " · ".join(
            f"{name} {result['value']:.3f} "
            f"[{VERDICT_STYLE[result['verdict']]}]{result['verdict']}[/]"
            for name, result in grouping["measures"].items() if "difference" in name)
        if measures:
            console.print(f"fairness by {grouping['name']}: {measures}", highlight=False)


def _slice_text(item: Mapping[str, Any], primary: str) -> str:
    interval = item.get("interval")
    bounds = f" [{interval['low']:.4f}, {interval['high']:.4f}]" if interval else ""
    return (f"{item['column']}={item['slice']} {item['scores'][primary]:.4f}{bounds} "
            f"({item['rows']} rows)")
