"""``report.html`` for one run, from the files in its directory: the scores with intervals, the
data report and each column's distribution, diagnostics, slices, fairness, importances and the
tuning plots; the markup is in ``templates/run_report.html`` and
``templates/evaluation_sections.html``."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup

from engine.card.rendering import report_section
from engine.errors import DataError
from engine.reporting.evaluation_sections import (
    diagnostics_section,
    explanations_section,
    fairness_section,
    slices_section,
    threshold_chart,
)
from engine.reporting.html_page import number, page, render, table
from engine.reporting.svg_charts import Layer, bar_chart, chart
from engine.tracking.files import read_json, write_text
from engine.tracking.records import (
    METRICS_FILE,
    RUN_FILE,
    MetricsRecord,
    RunRecord,
    Tuning,
    UnfinishedRunRecord,
    read_metrics,
    read_run,
)

REPORT_FILE = "report.html"
TEMPLATE = "run_report.html"
MAX_DISTRIBUTIONS = 60
"""Columns drawn in the distributions section; a wider table is summarised in its table."""


def write_run_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` and return its path."""
    _require(run_dir, RUN_FILE)
    run = read_run(run_dir)
    if isinstance(run, UnfinishedRunRecord):
        raise DataError(f"report: run {run_dir} failed before it was evaluated "
                        f"({run.error}); there is nothing to report.")
    _require(run_dir, METRICS_FILE)
    metrics = read_metrics(run_dir)
    evaluated = _optional(run_dir / "evaluation.json")
    data_report = _optional(run_dir / "data_report.json")
    data = run.dataset
    subtitle = (f"{data.task} · {data.rows:,} rows × {data.columns} columns · train "
                f"{metrics.n_train:,} / test {metrics.n_test:,} · seed {run.seed} · "
                f"{run.timing.total_seconds:.1f} s · {run_dir}")
    sections = [
        ("Metrics", metrics_section(metrics)),
        ("Data", data_section(data_report, data.fingerprint)),
        ("Distributions", distributions_section(data_report.get("columns"))),
        ("Diagnostics", diagnostics_section(evaluated.get("diagnostics"))),
        ("Slices", slices_section(evaluated.get("slices"), metrics.primary)),
        ("Fairness", fairness_section(evaluated.get("fairness"))),
        ("Explanations", explanations_section(evaluated.get("importance"),
                                              evaluated.get("partial_dependence"))),
        ("Tuning", tuning_section(metrics.tuning, run_dir / "tuning")),
        ("Provenance", provenance_section(run)),
        ("Model card", report_section(run_dir)),
    ]
    return write_text(run_dir / REPORT_FILE, page(
        f"{run.model} on {data.name}", sections, subtitle=subtitle,
        error=(run.error or "") if run.status == "failed" else ""))


def metrics_section(metrics: MetricsRecord) -> Markup:
    primary, cv, test = metrics.primary, metrics.cv, metrics.test
    rows = []
    for name in dict.fromkeys([primary, *cv, *test]):
        fold = cv.get(name)
        interval = metrics.test_intervals.get(name)
        rows.append([name + (" (primary)" if name == primary else ""),
                     f"{number(fold.mean)} ± {number(fold.std)}" if fold else "–",
                     test.get(name),
                     f"[{number(interval.low)}, {number(interval.high)}]" if interval else "–"])
    overfitting = metrics.overfitting.model_dump() if metrics.overfitting else {}
    decision = metrics.decision
    tuned = decision.get("threshold")
    confidence = metrics.bootstrap.confidence if metrics.bootstrap else 0.95
    return render(TEMPLATE, "metrics", rows=rows, confidence=f"{confidence:.0%}",
                  overfitting=overfitting,
                  max_gap=f"{overfitting['max_gap']:.0%}" if overfitting else "",
                  calibration=decision.get("calibration"), threshold=tuned,
                  threshold_chart=threshold_chart(tuned) if tuned else Markup())


def data_section(report: Mapping[str, Any], fingerprint: str) -> Markup:
    facts = [[key.replace("_", " "), value if not isinstance(value, dict) else
              ", ".join(f"{k}: {v:,}" for k, v in value.items())]
             for key, value in report.get("summary", {}).items()]
    facts.append(["fingerprint", fingerprint])
    return render(TEMPLATE, "data", facts=facts, findings=report.get("findings", []))


def distributions_section(columns: Mapping[str, Any] | None) -> Markup:
    """Each training column as data_report.json profiles it (the reference profile's bins and
    shares): a table of missing shares and ranges, and a chart per column."""
    if not columns:
        return Markup()
    rows: list[list[Any]] = []
    charts: list[Markup] = []
    for name, profile in columns.items():
        kind = profile["kind"]
        bins = profile["length"] if kind == "text" else profile
        summary = (f"{len(profile['shares'])} most frequent values" if kind == "categorical"
                   else f"{bins['minimum']:.4g} to {bins['maximum']:.4g}, mean "
                        f"{bins['mean']:.4g}" if bins["count"] else "no values")
        rows.append([name, "text (length)" if kind == "text" else kind,
                     f"{profile['missing']:.1%}", summary])
        if len(charts) < MAX_DISTRIBUTIONS:
            charts.append(_distribution_chart(
                f"{name} (length in characters)" if kind == "text" else name, bins))
    return render(TEMPLATE, "distributions", rows=rows, charts=charts, shown=len(charts))


def _distribution_chart(title: str, profile: Mapping[str, Any]) -> Markup:
    """Categories as bars (the rest as ``(other)``); numbers as a histogram of their quantile
    bins, each bin's height its share over its width, so that equal shares in narrow bins show
    where the values crowd."""
    if profile["kind"] == "categorical":
        categories = {**profile["shares"], **({"(other)": profile["other"]}
                                              if profile["other"] else {})}
        return bar_chart(list(categories), list(categories.values()), title=title,
                         x_label="share of the non-missing values")
    edges, shares = np.asarray(profile["edges"], float), np.asarray(profile["shares"], float)
    widths = np.diff(edges)
    if not len(widths) or not (widths > 0).all():  # no values, or a constant
        return bar_chart([f"{low:.4g} – {high:.4g}" for low, high in itertools.pairwise(edges)],
                         shares.tolist(), title=title, x_label="share of the non-missing values")
    density = np.repeat(shares / widths, 2)
    return chart([Layer(np.repeat(edges, 2).tolist(), np.r_[0.0, density, 0.0].tolist())],
                 title=title, x_label="value", y_label="share per unit (quantile bins)")


def tuning_section(tuning: Tuning | None, plots_dir: Path) -> Markup:
    if not tuning:
        return Markup()
    images = [(name.replace("_", " "), base64.b64encode((plots_dir / file).read_bytes()).decode())
              for name, file in tuning.plots.items() if (plots_dir / file).is_file()]
    return render(TEMPLATE, "tuning", tuning=tuning.model_dump(),
                  trials=", ".join(f"{count} {state.lower()}"
                                   for state, count in tuning.trials.items()),
                  best=", ".join(map(number, tuning.best_values)), images=images)


def provenance_section(run: RunRecord) -> Markup:
    git = run.git
    rows = [["choices", " ".join(f"{k}={v}" for k, v in run.choices.items())],
            ["git commit", f"{git.commit or 'none (not run in a git repository)'}"
                           f"{' (dirty)' if git.dirty else ''}"],
            *([name, version] for name, version in run.packages.items())]
    return table(["", ""], rows, sortable=False)


def _require(run_dir: Path, name: str) -> None:
    if not (run_dir / name).is_file():
        raise DataError(f"report: {run_dir} has no {name}; give a run directory written by "
                        "python -m engine.")


def _optional(path: Path) -> dict[str, Any]:
    return read_json(path) if path.is_file() else {}
