"""Small inline SVG charts for the HTML reports: lines, points and horizontal bars.

A report holds a dozen plots; drawing them with matplotlib would cost its import (0.3 s) and
about 25 ms a figure, more than the rest of the evaluation of a small run together (measured in
tests/bench/bench_evaluation.py). These charts are SVG drawn from ``templates/svg_charts.html``,
which escapes every label; a few milliseconds for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from markupsafe import Markup

from engine.reporting.html_page import render

WIDTH, HEIGHT = 360, 260
MARGIN = {"left": 56, "right": 12, "top": 34, "bottom": 42}
TEMPLATE = "svg_charts.html"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


@dataclass(frozen=True)
class Layer:
    """One series: a line through its points, or the points alone."""

    x: Sequence[float]
    y: Sequence[float]
    label: str = ""
    kind: str = "line"  # line | points | dashed


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return [low]
    raw = (high - low) / count
    power = 10 ** np.floor(np.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10) if m * power >= raw), default=raw)
    start = np.ceil(low / step) * step
    return [float(np.round(v / step) * step) + 0.0 for v in np.arange(start, high + step / 2, step)]


def chart(layers: Sequence[Layer], *, title: str, x_label: str, y_label: str,
          x_range: tuple[float, float] | None = None,
          y_range: tuple[float, float] | None = None) -> Markup:
    """An SVG line or scatter chart with axes, ticks and a legend."""
    xs = np.concatenate([np.asarray(layer.x, float) for layer in layers] or [np.zeros(1)])
    ys = np.concatenate([np.asarray(layer.y, float) for layer in layers] or [np.zeros(1)])
    x_low, x_high = x_range or _padded(xs)
    y_low, y_high = y_range or _padded(ys)
    left, top = MARGIN["left"], MARGIN["top"]
    plot_w = WIDTH - left - MARGIN["right"]
    plot_h = HEIGHT - top - MARGIN["bottom"]

    def px(value: float) -> float:
        return round(left + (value - x_low) / (x_high - x_low) * plot_w, 1)

    def py(value: float) -> float:
        return round(top + plot_h - (value - y_low) / (y_high - y_low) * plot_h, 1)

    colours = _colours(layers)
    series = [(layer.kind, colour, [(px(x), py(y)) for x, y in zip(layer.x, layer.y, strict=True)
                                    if np.isfinite(x) and np.isfinite(y)])
              for layer, colour in zip(layers, colours, strict=True)]
    legend = [(colour, layer.label) for layer, colour in zip(layers, colours, strict=True)
              if layer.label][:8]
    return render(TEMPLATE, "chart", width=WIDTH, height=HEIGHT, left=left, top=top,
                  plot_w=plot_w, plot_h=plot_h, title=title, x_label=x_label, y_label=y_label,
                  x_ticks=[(px(t), _short(t)) for t in _within(nice_ticks(x_low, x_high),
                                                               x_low, x_high)],
                  y_ticks=[(py(t), _short(t)) for t in _within(nice_ticks(y_low, y_high),
                                                               y_low, y_high)],
                  series=series, legend=legend)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, x_label: str,
              errors: Sequence[float] | None = None) -> Markup:
    """Horizontal bars, one per label in the order given, with optional error whiskers."""
    row_h, label_w, width = 18, 150, WIDTH + 120
    plot_w = width - label_w - MARGIN["right"]
    lengths = np.asarray(values, float)
    spread = np.asarray(errors if errors is not None else np.zeros(len(lengths)), float)
    low = min(0.0, float(np.min(lengths - spread))) if len(lengths) else 0.0
    high = max(float(np.max(lengths + spread)), 0.0) if len(lengths) else 1.0
    high = high if high > low else low + 1

    def px(value: float) -> float:
        return round(label_w + (value - low) / (high - low) * plot_w, 1)

    bars = [(MARGIN["top"] + row * row_h, _clip(label), *sorted((px(0), px(value))),
             (px(value - error), px(value + error)) if error > 0 else None)
            for row, (label, value, error) in enumerate(zip(labels, lengths, spread, strict=True))]
    return render(TEMPLATE, "bar_chart", width=width,
                  height=MARGIN["top"] + MARGIN["bottom"] + row_h * max(len(labels), 1),
                  top=MARGIN["top"], bottom=MARGIN["top"] + row_h * len(labels), row_h=row_h,
                  label_w=label_w, plot_w=plot_w, title=title, x_label=x_label, bars=bars,
                  zero=px(0), colour=PALETTE[0],
                  ticks=[(px(t), _short(t)) for t in nice_ticks(low, high)])


def _within(ticks: list[float], low: float, high: float) -> list[float]:
    """The ticks inside the axis (a round step can overshoot its end), so none is drawn
    outside the plot."""
    slack = (high - low) * 1e-9
    return [tick for tick in ticks if low - slack <= tick <= high + slack]


def _colours(layers: Sequence[Layer]) -> list[str]:
    """Grey for dashed reference lines; the palette in order for the others."""
    colours, index = [], 0
    for layer in layers:
        if layer.kind == "dashed":
            colours.append("#999")
        else:
            colours.append(PALETTE[index % len(PALETTE)])
            index += 1
    return colours


def _padded(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return low - pad, high + pad


def _short(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.2e}"


def _clip(text: str, width: int = 24) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
