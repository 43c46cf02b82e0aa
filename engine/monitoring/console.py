"""The console summary of ``python -m engine monitor``: one line per chunk, then the alerts."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.monitoring.summary import (
    MONITOR_FILE,
    REPORT_FILE,
    ChunkRecord,
    MetricResultRecord,
    MonitorRecord,
)


def print_monitor(console: Console, record: MonitorRecord, output: Path) -> None:
    """What was judged, a table of chunks, the alerts, the webhook and where the files are."""
    console.rule(f"[bold]monitor[/bold] {record.model} ({record.task})")
    console.print(f"{record.rows} rows from {record.source}, {record.labelled} labelled · "
                  f"chunks: {record.chunking}", highlight=False)
    for note in record.notes:
        console.print(f"[yellow]note[/yellow]: {note}", highlight=False)
    table = Table(show_edge=False, header_style="bold")
    for heading in ("chunk", "rows", "drifted columns", "dataset drift", "prediction drift",
                    "quality", "measured", "estimated (no labels)"):
        table.add_column(heading, justify="right" if heading == "rows" else "left")
    for chunk in record.chunks:
        table.add_row(chunk.label, str(chunk.rows), _drifted(chunk),
                      "[red]yes[/red]" if chunk.dataset_drift else "no",
                      ", ".join(d.column for d in chunk.prediction_drift if d.drifted) or "no",
                      ", ".join(chunk.quality.flagged) or "ok",
                      _scores(chunk.performance) or "no labels",
                      _estimates(chunk))
    console.print(table)
    estimates = [chunk.estimated for chunk in record.chunks if chunk.estimated is not None]
    if estimates:
        reasons = dict.fromkeys(estimate.reason for estimate in estimates)
        for reason in reasons:
            console.print(f"[dim]estimated: {reason}[/dim]", highlight=False)
        for chunk in record.chunks:
            for missed in chunk.estimated.missed if chunk.estimated else []:
                console.print(f"[yellow]estimate missed[/yellow] in {chunk.label}: {missed}",
                              highlight=False)
    if record.alerts:
        for alert in record.alerts:
            colour = "red" if alert.fails else "yellow"
            console.print(f"[{colour}]alert[/{colour}] {alert.kind} in {alert.chunk}: "
                          f"{alert.message}", highlight=False)
    else:
        console.print("[green]no threshold crossed[/green]")
    if record.webhook is not None:
        hook = record.webhook
        if hook.delivered:
            console.print(f"webhook: posted to {hook.url} (HTTP {hook.status})", highlight=False)
        else:
            console.print(f"[red]webhook failed[/red]: {hook.url}: {hook.error} after "
                          f"{hook.attempts} attempts", highlight=False)
    console.print(f"monitor: {output / MONITOR_FILE}", highlight=False)
    console.print(f"report: {output / REPORT_FILE}", highlight=False)
    if record.failed:
        console.print("[red]exit 1[/red]: a threshold was crossed (alerts.fail=true)")


def _drifted(chunk: ChunkRecord) -> str:
    if not chunk.drift:
        return "–"
    names = ", ".join(chunk.drifted_columns[:4]) + (" …" if len(chunk.drifted_columns) > 4 else "")
    return f"{len(chunk.drifted_columns)}/{len(chunk.drift)}" + (f": {names}" if names else "")


def _scores(metrics: list[MetricResultRecord], limit: int = 2) -> str:
    return "; ".join(_score(metric) for metric in metrics[:limit])


def _score(metric: MetricResultRecord) -> str:
    if metric.value is None:
        return f"{metric.metric} –"
    interval = (f" [{metric.low:.3f}, {metric.high:.3f}]"
                if metric.low is not None and metric.high is not None else "")
    reference = f" (ref {metric.reference:.3f})" if metric.reference is not None else ""
    mark = " [red]DECAY[/red]" if metric.decayed else ""
    return f"{metric.metric} {metric.value:.3f}{interval}{reference}{mark}"


def _estimates(chunk: ChunkRecord) -> str:
    estimate = chunk.estimated
    if estimate is None:
        return "off"
    if not estimate.valid:
        return "not valid"
    return _scores(estimate.metrics)
