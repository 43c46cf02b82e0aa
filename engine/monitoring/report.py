"""monitor.html: one self-contained page (the reports' shell, ``reporting/html_page.py``) with the
chunks' verdicts, the reference against the current distribution of every drifted column, each
measure over time by chunk with its threshold, and performance over time with its intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from markupsafe import Markup

from engine.monitoring.drift import bin_indices
from engine.monitoring.summary import ChunkRecord, DriftResult, MetricResultRecord, MonitorRecord
from engine.reporting.html_page import number, page, render, table
from engine.reporting.svg_charts import PALETTE, Layer, chart, nice_ticks
from engine.tracking.records import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
    TextProfile,
)

TEMPLATE = "monitor.html"
MAX_COLUMNS = 24
"""Drifted columns drawn (the most drifted first); the table lists them all."""


def render_report(record: MonitorRecord, profile: ReferenceProfile, rows: pd.DataFrame) -> str:
    """The whole page."""
    sections = [
        ("Summary", _summary(record)),
        ("Drifted columns", _drifted(record, profile, rows)),
        ("Drift over time", _over_time(record)),
        ("Performance", _performance(record)),
        ("Data quality", _quality(record)),
        ("Settings", _settings(record)),
    ]
    verdict = ("a threshold was crossed" if record.failed
               else f"{len(record.alerts)} warning(s)" if record.alerts else "no threshold crossed")
    subtitle = (f"{record.rows} rows from {record.source} ({record.labelled} labelled), chunks: "
                f"{record.chunking}; {record.created}; {verdict}")
    return page(f"Monitoring: {record.model}", sections, subtitle=subtitle,
                error="; ".join(f"{a.kind} in {a.chunk}" for a in record.alerts
                                if a.fails)[:600])


def _summary(record: MonitorRecord) -> Markup:
    rows = [[chunk.label, chunk.rows, chunk.labelled,
             f"{len(chunk.drifted_columns)}/{len(chunk.drift)}", chunk.drift_share,
             "yes" if chunk.dataset_drift else "no",
             ", ".join(d.column for d in chunk.prediction_drift if d.drifted) or "no",
             ", ".join(chunk.quality.flagged) or "ok"] for chunk in record.chunks]
    alerts = [[alert.kind, alert.chunk, alert.message] for alert in record.alerts]
    parts = [table(["chunk", "rows", "labelled", "drifted", "drift share", "dataset drift",
                    "prediction drift", "quality"], rows)]
    if alerts:
        parts.append(render(TEMPLATE, "heading", text="Alerts"))
        parts.append(table(["alert", "chunk", "what"], alerts))
    if record.webhook is not None:
        hook = record.webhook
        parts.append(render(TEMPLATE, "note", text=(
            f"webhook {hook.url}: " + (f"delivered (HTTP {hook.status})" if hook.delivered
                                       else f"failed after {hook.attempts} attempts: "
                                            f"{hook.error}"))))
    for note in record.notes:
        parts.append(render(TEMPLATE, "note", text=note))
    return Markup("").join(parts)


def _drifted(record: MonitorRecord, profile: ReferenceProfile, rows: pd.DataFrame) -> Markup:
    worst: dict[str, int] = {}
    for chunk in record.chunks:
        for result in chunk.drift:
            if result.drifted:
                worst[result.column] = worst.get(result.column, 0) + 1
    if not worst:
        return render(TEMPLATE, "note", text="No column drifted in any chunk.")
    ordered = sorted(worst, key=lambda column: -worst[column])
    listing = table(["column", "chunks drifted", "of"],
                    [[column, worst[column], len(record.chunks)] for column in ordered])
    charts = []
    for column in ordered[:MAX_COLUMNS]:
        reference = profile.columns.get(column)
        if reference is not None and column in rows.columns:
            charts.append(distribution_chart(column, reference, rows[column]))
        charts.append(_measure_chart(record.chunks, column))
    return Markup("").join([listing, render("html_page.html", "grid", items=charts)])


def _over_time(record: MonitorRecord) -> Markup:
    chunks = record.chunks
    x = list(range(len(chunks)))
    share = float(record.settings.get("drift", {}).get("drift_share", 0.5))
    charts = [chart([Layer(x, [c.drift_share for c in chunks], "share of columns drifted",
                           "line" if len(chunks) > 1 else "points"),
                     Layer(x, [share] * len(chunks), f"threshold {share:g}", "dashed")],
                    title="Dataset drift", x_label="chunk", y_label="share drifted",
                    y_range=(0.0, 1.0))]
    names = dict.fromkeys(d.column for c in chunks for d in c.prediction_drift)
    for name in names:
        charts.append(_measure_chart(chunks, name, prediction=True))
    if any(c.target_drift is not None for c in chunks):
        charts.append(_measure_chart(chunks, "_target", target=True))
    return render("html_page.html", "grid", items=charts)


def _measure_chart(chunks: Sequence[ChunkRecord], column: str, *, prediction: bool = False,
                   target: bool = False) -> Markup:
    """One column's drift measure in each chunk, with its threshold: a distance as it is, a
    p-value as log10 (drift below the threshold's line), as p-values of drifted chunks are
    often 1e-20 and would lie on the axis."""
    found: list[DriftResult | None] = []
    for chunk in chunks:
        tested = ([chunk.target_drift] if target else
                  chunk.prediction_drift if prediction else chunk.drift)
        found.append(next((r for r in tested if r is not None and r.column == column), None))
    tests = dict.fromkeys(r.test for r in found if r is not None)
    p_values = any(r is not None and r.p_value is not None for r in found)

    def shown(value: float | None) -> float:
        if value is None:
            return np.nan
        return float(np.log10(max(value, 1e-300))) if p_values else value

    values = [shown(None if r is None else r.p_value if p_values else r.statistic)
              for r in found]
    thresholds = [shown(None if r is None else r.threshold) for r in found]
    x = list(range(len(chunks)))
    kind = "line" if len(chunks) > 1 else "points"
    name = "/".join(tests) or "drift"
    return chart([Layer(x, values, f"{name} {'log10 p-value' if p_values else 'distance'}", kind),
                  Layer(x, thresholds, "threshold", "dashed")],
                 title=f"{column}: {name} by chunk", x_label="chunk",
                 y_label="log10 p-value" if p_values else name)


def distribution_chart(column: str, reference: ColumnProfile, current: pd.Series) -> Markup:
    """Reference (training) against current shares per bin or category, side by side."""
    labels, ref_shares, cur_shares = _shares(reference, current)
    width, height, left, top, bottom = 380, 260, 44, 34, 70
    plot_w, plot_h = width - left - 10, height - top - bottom
    high = max([*ref_shares, *cur_shares, 1e-9])
    step = plot_w / max(len(labels), 1)
    bar = max(step * 0.4, 1.0)
    bars = []
    for index, (label, ref, cur) in enumerate(zip(labels, ref_shares, cur_shares, strict=True)):
        x0 = left + index * step + step * 0.1
        bars.append((round(x0, 1), round(x0 + bar, 1), round(bar, 1),
                     round(top + plot_h - ref / high * plot_h, 1), round(ref / high * plot_h, 1),
                     round(top + plot_h - cur / high * plot_h, 1), round(cur / high * plot_h, 1),
                     label, round(x0 + bar, 1)))
    ticks = [(round(top + plot_h - t / high * plot_h, 1), f"{t:.2g}")
             for t in nice_ticks(0.0, high) if t <= high]
    return render(TEMPLATE, "distribution", width=width, height=height, left=left, top=top,
                  plot_w=plot_w, plot_h=plot_h, title=f"{column}: reference vs current",
                  bars=bars, ticks=ticks, reference_colour="#999", current_colour=PALETTE[0],
                  show_labels=len(labels) <= 12)


def _shares(reference: ColumnProfile,
            current: pd.Series) -> tuple[list[str], list[float], list[float]]:
    values = current.dropna()
    if isinstance(reference, TextProfile):
        return _numeric_shares(reference.length, values.astype(str).str.len())
    if isinstance(reference, NumericProfile):
        return _numeric_shares(reference, pd.to_numeric(values, errors="coerce").dropna())
    assert isinstance(reference, CategoricalProfile)
    found = values.value_counts()  # each distinct value written once, not each row
    texts = [str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
             for v in found.index]
    counts = pd.Series(found.to_numpy(), index=texts).groupby(level=0, sort=False).sum()
    counts = counts / counts.sum()
    labels = list(reference.shares)
    other = float(counts[~counts.index.isin(labels)].sum())
    shown = [*labels, *(["other / unseen"] if other or reference.other else [])]
    ref = [reference.shares[label] for label in labels] + ([reference.other] if len(shown) >
                                                           len(labels) else [])
    cur = [float(counts.get(label, 0.0)) for label in labels] + ([other] if len(shown) >
                                                                 len(labels) else [])
    return shown, ref, cur


def _numeric_shares(reference: NumericProfile,
                    values: pd.Series) -> tuple[list[str], list[float], list[float]]:
    edges = np.asarray(reference.edges, float)
    numbers = values.to_numpy(float)
    bins = len(edges) - 1  # numpy.histogram's bins, without its sort of every value
    inner = np.bincount(bin_indices(reference.edges, np.clip(numbers, edges[0], edges[-1])),
                        minlength=bins)[:bins]
    below, above = int((numbers < edges[0]).sum()), int((numbers > edges[-1]).sum())
    total = max(len(numbers), 1)
    labels = [f"{edges[i]:.3g}" for i in range(len(edges) - 1)]
    ref, cur = list(reference.shares), [c / total for c in inner]
    if below or above:  # clipped into the end bins above; shown apart, so a shift is visible
        cur[0] -= below / total
        cur[-1] -= above / total
        labels, ref, cur = (["< min", *labels, "> max"], [0.0, *ref, 0.0],
                            [below / total, *cur, above / total])
    return labels, ref, cur


def _performance(record: MonitorRecord) -> Markup:
    chunks = record.chunks
    names = dict.fromkeys([*(m.metric for c in chunks for m in c.performance),
                           *(m.metric for c in chunks if c.estimated
                             for m in c.estimated.metrics)])
    if not names:
        return render(TEMPLATE, "note", text="No labels and no estimate: nothing to show.")
    charts, rows = [], []
    for name in names:
        measured = [_find(c.performance, name) for c in chunks]
        estimated = [_find(c.estimated.metrics if c.estimated else [], name) for c in chunks]
        charts.append(_metric_chart(name, measured, estimated))
        for chunk, m, e in zip(chunks, measured, estimated, strict=True):
            if m is None and e is None:
                continue
            either = m or e
            rows.append([chunk.label, name, _value(m), _interval(m), _value(e), _interval(e),
                         either.reference if either else None,
                         either.threshold if either else None,
                         "yes" if (m and m.decayed) or (e and e.decayed) else "no"])
    notes = dict.fromkeys(c.estimated.reason for c in chunks if c.estimated)
    parts = [render("html_page.html", "grid", items=charts),
             table(["chunk", "metric", "measured", "interval", "estimated", "interval",
                    "reference", "decay below", "decayed"], rows)]
    parts += [render(TEMPLATE, "note", text=f"Estimated: {note}.") for note in notes]
    parts += [render(TEMPLATE, "note", text=f"{chunk.label}: {missed}.") for chunk in chunks
              if chunk.estimated for missed in chunk.estimated.missed]
    return Markup("").join(parts)


def _metric_chart(name: str, measured: list[MetricResultRecord | None],
                  estimated: list[MetricResultRecord | None]) -> Markup:
    x = list(range(len(measured)))
    kind = "line" if len(x) > 1 else "points"
    layers = []

    def values(found: list[MetricResultRecord | None], attribute: str) -> list[float]:
        return [np.nan if m is None or getattr(m, attribute) is None else getattr(m, attribute)
                for m in found]

    def ends(found: list[MetricResultRecord | None], label: str) -> Layer:
        """The interval's two ends as one layer of points: one colour, one legend entry."""
        return Layer([*x, *x], [*values(found, "low"), *values(found, "high")], label,
                     "points")

    if any(m is not None for m in measured):
        layers += [Layer(x, values(measured, "value"), "measured", kind),
                   ends(measured, "measured interval")]
    if any(e is not None for e in estimated):
        layers += [Layer(x, values(estimated, "value"), "estimated (no labels)", kind),
                   ends(estimated, "estimate interval")]
    both = [m or e for m, e in zip(measured, estimated, strict=True)]
    layers += [Layer(x, values(both, "reference"), "reference", "dashed"),
               Layer(x, values(both, "threshold"), "decay threshold", "dashed")]
    return chart(layers, title=f"{name} by chunk", x_label="chunk", y_label=name)


def _quality(record: MonitorRecord) -> Markup:
    totals: dict[str, list[float]] = {}
    for chunk in record.chunks:
        for entry in chunk.quality.columns:
            total = totals.setdefault(entry.column, [0.0, entry.reference_missing, 0, 0, 0])
            total[0] = max(total[0], entry.missing)
            total[2] += entry.out_of_range
            total[3] += entry.unseen
            total[4] += int(entry.column in chunk.quality.flagged)
    rows = [[column, missing, reference, int(out), int(unseen), int(flagged)]
            for column, (missing, reference, out, unseen, flagged) in totals.items()]
    warnings = dict.fromkeys(w for c in record.chunks for w in c.quality.warnings)
    parts = [table(["column", "missing (worst chunk)", "missing (reference)",
                    "outside training range", "unseen categories", "chunks flagged"], rows)]
    parts += [render(TEMPLATE, "note", text=warning) for warning in warnings]
    return Markup("").join(parts)


def _settings(record: MonitorRecord) -> Markup:
    flat = _flatten(record.settings)
    return table(["setting", "value"], [[key, str(value)] for key, value in flat.items()])


def _flatten(values: dict[str, object], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _find(metrics: Sequence[MetricResultRecord], name: str) -> MetricResultRecord | None:
    return next((m for m in metrics if m.metric == name), None)


def _value(metric: MetricResultRecord | None) -> float | None:
    return None if metric is None else metric.value


def _interval(metric: MetricResultRecord | None) -> str:
    if metric is None or metric.low is None or metric.high is None:
        return "–"
    return f"{number(metric.low)} – {number(metric.high)}"
