"""``report.html`` for one run, from the files in its directory: the scores with intervals, the
data report, diagnostics, slices, fairness, importances and the tuning plots; the markup is in
``templates/run_report.html`` and ``templates/evaluation_sections.html``."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markupsafe import Markup

from engine.errors import DataError
from engine.reporting.evaluation_sections import (
    diagnostics_section,
    explanations_section,
    fairness_section,
    slices_section,
    threshold_chart,
)
from engine.reporting.html_page import number, page, render, table
from engine.tracking.files import read_json

REPORT_FILE = "report.html"
TEMPLATE = "run_report.html"


def write_run_report(run_dir: Path) -> Path:
    """Write ``run_dir/report.html`` and return its path."""
    run = _read(run_dir, "run.json")
    if run.get("status") == "failed" and "dataset" not in run:
        raise DataError(f"report: run {run_dir} failed before it was evaluated "
                        f"({run.get('error', 'no error recorded')}); there is nothing to report.")
    metrics = _read(run_dir, "metrics.json")
    evaluated = _optional(run_dir / "evaluation.json")
    data_report = _optional(run_dir / "data_report.json")
    data = run["dataset"]
    subtitle = (f"{data['task']} · {data['rows']:,} rows × {data['columns']} columns · train "
                f"{metrics['n_train']:,} / test {metrics['n_test']:,} · seed {run['seed']} · "
                f"{run['timing']['total_seconds']:.1f} s · {run_dir}")
    error = run.get("error", "") if run.get("status") == "failed" else ""
    sections = [
        ("Metrics", metrics_section(metrics)),
        ("Data", data_section(data_report, data)),
        ("Diagnostics", diagnostics_section(evaluated.get("diagnostics"))),
        ("Slices", slices_section(evaluated.get("slices"), metrics["primary"])),
        ("Fairness", fairness_section(evaluated.get("fairness"))),
        ("Explanations", explanations_section(evaluated.get("importance"),
                                              evaluated.get("partial_dependence"))),
        ("Tuning", tuning_section(metrics.get("tuning"), run_dir / "tuning")),
        ("Provenance", provenance_section(run)),
    ]
    path = run_dir / REPORT_FILE
    path.write_text(page(f"{run['model']} on {data['name']}", sections, subtitle=subtitle,
                         error=error), encoding="utf-8")
    return path


def metrics_section(metrics: Mapping[str, Any]) -> Markup:
    primary, cv, test = metrics["primary"], metrics["cv"], metrics["test"]
    intervals = metrics.get("test_intervals") or {}
    rows = []
    for name in dict.fromkeys([primary, *cv, *test]):
        fold = cv.get(name)
        interval = intervals.get(name)
        rows.append([name + (" (primary)" if name == primary else ""),
                     f"{number(fold['mean'])} ± {number(fold['std'])}" if fold else "–",
                     test.get(name),
                     f"[{number(interval['low'])}, {number(interval['high'])}]"
                     if interval else "–"])
    overfitting = metrics.get("overfitting") or {}
    decision = metrics.get("decision") or {}
    tuned = decision.get("threshold")
    return render(TEMPLATE, "metrics", rows=rows,
                  confidence=f"{metrics.get('bootstrap', {}).get('confidence', 0.95):.0%}",
                  overfitting=overfitting,
                  max_gap=f"{overfitting['max_gap']:.0%}" if overfitting else "",
                  calibration=decision.get("calibration"), threshold=tuned,
                  threshold_chart=threshold_chart(tuned) if tuned else Markup())


def data_section(report: Mapping[str, Any], data: Mapping[str, Any]) -> Markup:
    facts = [[key.replace("_", " "), value if not isinstance(value, dict) else
              ", ".join(f"{k}: {v:,}" for k, v in value.items())]
             for key, value in report.get("summary", {}).items()]
    facts.append(["fingerprint", data.get("fingerprint", "")])
    return render(TEMPLATE, "data", facts=facts, findings=report.get("findings", []))


def tuning_section(tuning: Mapping[str, Any] | None, plots_dir: Path) -> Markup:
    if not tuning:
        return Markup()
    images = [(name.replace("_", " "), base64.b64encode((plots_dir / file).read_bytes()).decode())
              for name, file in (tuning.get("plots") or {}).items()
              if (plots_dir / file).is_file()]
    return render(TEMPLATE, "tuning", tuning=tuning,
                  trials=", ".join(f"{count} {state.lower()}"
                                   for state, count in tuning["trials"].items()),
                  best=", ".join(map(number, tuning["best_values"])), images=images)


def provenance_section(run: Mapping[str, Any]) -> Markup:
    git = run.get("git") or {}
    rows = [["choices", " ".join(f"{k}={v}" for k, v in run.get("choices", {}).items())],
            ["git commit", f"{git.get('commit') or 'none (not run in a git repository)'}"
                           f"{' (dirty)' if git.get('dirty') else ''}"],
            *([name, version] for name, version in (run.get("packages") or {}).items())]
    return table(["", ""], rows, sortable=False)


def _read(run_dir: Path, name: str) -> dict[str, Any]:
    path = run_dir / name
    if not path.is_file():
        raise DataError(f"report: {run_dir} has no {name}; give a run directory written by "
                        "python -m engine.")
    return read_json(path)


def _optional(path: Path) -> dict[str, Any]:
    return read_json(path) if path.is_file() else {}
