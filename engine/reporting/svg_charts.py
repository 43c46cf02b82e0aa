"""Small inline SVG charts for the HTML reports: lines, points and horizontal bars.

A report holds a dozen plots; drawing them with matplotlib would cost its import (0.3 s) and
about 25 ms a figure, more than the rest of the evaluation of a small run together (measured in
tests/bench/bench_evaluation.py). These charts are plain SVG strings, a few milliseconds for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import numpy as np

WIDTH, HEIGHT = 360, 260
MARGIN = {"left": 56, "right": 12, "top": 34, "bottom": 42}
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
          y_range: tuple[float, float] | None = None) -> str:
    """An SVG line or scatter chart with axes, ticks and a legend."""
    xs = np.concatenate([np.asarray(layer.x, float) for layer in layers] or [np.zeros(1)])
    ys = np.concatenate([np.asarray(layer.y, float) for layer in layers] or [np.zeros(1)])
    x_low, x_high = x_range or _padded(xs)
    y_low, y_high = y_range or _padded(ys)
    left, top = MARGIN["left"], MARGIN["top"]
    plot_w = WIDTH - left - MARGIN["right"]
    plot_h = HEIGHT - top - MARGIN["bottom"]

    def px(value: float) -> float:
        return left + (value - x_low) / (x_high - x_low) * plot_w

    def py(value: float) -> float:
        return top + plot_h - (value - y_low) / (y_high - y_low) * plot_h

    parts = [_axes(left, top, plot_w, plot_h, title, x_label, y_label)]
    for tick in nice_ticks(x_low, x_high):
        parts.append(f'<line x1="{px(tick):.1f}" y1="{top + plot_h}" x2="{px(tick):.1f}" '
                     f'y2="{top + plot_h + 4}" stroke="#444"/><text x="{px(tick):.1f}" '
                     f'y="{top + plot_h + 16}" text-anchor="middle">{_short(tick)}</text>')
    for tick in nice_ticks(y_low, y_high):
        parts.append(f'<line x1="{left - 4}" y1="{py(tick):.1f}" x2="{left + plot_w}" '
                     f'y2="{py(tick):.1f}" stroke="#eee"/><text x="{left - 6}" '
                     f'y="{py(tick) + 4:.1f}" text-anchor="end">{_short(tick)}</text>')
    colours = _colours(layers)
    for layer, colour in zip(layers, colours, strict=True):
        points = [(px(x), py(y)) for x, y in zip(layer.x, layer.y, strict=True)
                  if np.isfinite(x) and np.isfinite(y)]
        if layer.kind == "points":
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{colour}" '
                      'fill-opacity="0.5"/>' for x, y in points]
        else:
            dash = ' stroke-dasharray="4 3"' if layer.kind == "dashed" else ""
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                         f'stroke-width="1.6"{dash}/>')
    labelled = [(layer, colour) for layer, colour in zip(layers, colours, strict=True)
                if layer.label]
    for row, (layer, colour) in enumerate(labelled[:8]):
        y = top + 10 + row * 13
        parts.append(f'<rect x="{left + 8}" y="{y - 7}" width="10" height="3" fill="{colour}"/>'
                     f'<text x="{left + 22}" y="{y}">{escape(layer.label)}</text>')
    return _svg(parts, WIDTH, HEIGHT, title)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, x_label: str,
              errors: Sequence[float] | None = None) -> str:
    """Horizontal bars, one per label in the order given, with optional error whiskers."""
    row_h, label_w = 18, 150
    height = MARGIN["top"] + MARGIN["bottom"] + row_h * max(len(labels), 1)
    plot_w = WIDTH + 120 - label_w - MARGIN["right"]
    values = np.asarray(values, float)
    spread = np.asarray(errors if errors is not None else np.zeros(len(values)), float)
    low = min(0.0, float(np.min(values - spread))) if len(values) else 0.0
    high = max(float(np.max(values + spread)), 0.0) if len(values) else 1.0
    high = high if high > low else low + 1

    def px(value: float) -> float:
        return label_w + (value - low) / (high - low) * plot_w

    parts = [f'<text x="{(WIDTH + 120) / 2}" y="16" text-anchor="middle" '
             f'class="title">{escape(title)}</text>']
    for row, (label, value, error) in enumerate(zip(labels, values, spread, strict=True)):
        y = MARGIN["top"] + row * row_h
        x0, x1 = sorted((px(0), px(value)))
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">'
                     f'{escape(_clip(label))}</text><rect x="{x0:.1f}" y="{y + 3}" '
                     f'width="{max(x1 - x0, 0.5):.1f}" height="{row_h - 6}" fill="{PALETTE[0]}"/>')
        if error > 0:
            parts.append(f'<line x1="{px(value - error):.1f}" y1="{y + 9}" '
                         f'x2="{px(value + error):.1f}" y2="{y + 9}" stroke="#333"/>')
    bottom = MARGIN["top"] + row_h * len(labels)
    for tick in nice_ticks(low, high):
        parts.append(f'<text x="{px(tick):.1f}" y="{bottom + 14}" text-anchor="middle">'
                     f'{_short(tick)}</text>')
    parts.append(f'<line x1="{px(0):.1f}" y1="{MARGIN["top"]}" x2="{px(0):.1f}" y2="{bottom}" '
                 f'stroke="#444"/><text x="{label_w + plot_w / 2}" y="{bottom + 32}" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    return _svg(parts, WIDTH + 120, height, title)


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


def _axes(left: float, top: float, width: float, height: float, title: str, x_label: str,
          y_label: str) -> str:
    return (f'<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" '
            f'stroke="#444"/><text x="{left + width / 2}" y="16" text-anchor="middle" '
            f'class="title">{escape(title)}</text><text x="{left + width / 2}" '
            f'y="{top + height + 34}" text-anchor="middle">{escape(x_label)}</text>'
            f'<text transform="translate(14 {top + height / 2}) rotate(-90)" '
            f'text-anchor="middle">{escape(y_label)}</text>')


def _svg(parts: list[str], width: float, height: float, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
            f'viewBox="0 0 {width} {height:.0f}" role="img" aria-label="{escape(title)}">'
            + "".join(parts) + "</svg>")


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
