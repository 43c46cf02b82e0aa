"""``report.html`` for one run, from the files in its directory: the scores with intervals, the
data report, diagnostics, slices, fairness, importances and the tuning plots."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from engine.errors import DataError
from engine.reporting.evaluation_sections import (
    diagnostics_section,
    explanations_section,
    fairness_section,
    slices_section,
    threshold_chart,
)
from engine.reporting.html_page import Raw, image, number, page, paragraph, table
from engine.tracking.files import read_json

REPORT_FILE = "report.html"


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
    subtitle = escape(
        f"{data['task']} · {data['rows']:,} rows × {data['columns']} columns · train "
        f"{metrics['n_train']:,} / test {metrics['n_test']:,} · seed {run['seed']} · "
        f"{run['timing']['total_seconds']:.1f} s · {run_dir}")
    if run.get("status") == "failed":
        subtitle += f'<br><span class="failed">{escape(run.get("error", ""))}</span>'
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
    path.write_text(page(f"{run['model']} on {data['name']}", sections, subtitle=subtitle),
                    encoding="utf-8")
    return path


def metrics_section(metrics: Mapping[str, Any]) -> str:
    primary, cv, test = metrics["primary"], metrics["cv"], metrics["test"]
    intervals = metrics.get("test_intervals") or {}
    confidence = metrics.get("bootstrap", {}).get("confidence", 0.95)
    rows = []
    for name in dict.fromkeys([primary, *cv, *test]):
        fold = cv.get(name)
        interval = intervals.get(name)
        rows.append([name + (" (primary)" if name == primary else ""),
                     f"{number(fold['mean'])} ± {number(fold['std'])}" if fold else "–",
                     test.get(name),
                     f"[{number(interval['low'])}, {number(interval['high'])}]"
                     if interval else "–"])
    parts = [table(["metric", "CV mean ± std", "test", f"test {confidence:.0%} interval"], rows,
                   sortable=False)]
    overfitting = metrics.get("overfitting") or {}
    if overfitting:
        verdict = ('<span class="warn">flagged</span>' if overfitting.get("flagged")
                   else '<span class="ok">within</span>')
        parts.append(paragraph(
            f"Overfitting check on {escape(overfitting['metric'])}: train "
            f"{number(overfitting.get('train'))}, CV {number(overfitting.get('cv'))}, test "
            f"{number(overfitting.get('test'))}; {verdict} the allowed gap of "
            f"{overfitting['max_gap']:.0%}."))
    decision = metrics.get("decision") or {}
    if "calibration" in decision:
        method = escape(decision["calibration"]["method"])
        parts.append(paragraph(f"Probabilities calibrated ({method}) on out-of-fold predictions "
                               "of the training rows."))
    if "threshold" in decision:
        tuned = decision["threshold"]
        parts.append(paragraph(f"Decision threshold {tuned['threshold']:.3f}, tuned for "
                               f"{escape(tuned['objective'])} on the CV folds' out-of-fold "
                               "predictions; the test scores above use it."))
        parts.append(threshold_chart(tuned))
    return "".join(parts)


def data_section(report: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    summary = report.get("summary", {})
    facts = [[key.replace("_", " "), value if not isinstance(value, dict) else
              ", ".join(f"{k}: {v:,}" for k, v in value.items())]
             for key, value in summary.items()]
    facts.append(["fingerprint", data.get("fingerprint", "")])
    findings = report.get("findings", [])
    parts = [table(["", "value"], facts, sortable=False)]
    if findings:
        parts.append("<h3>Quality findings</h3>" + table(
            ["severity", "check", "message"],
            [[Raw(f'<span class="{_severity_class(f["severity"])}">{f["severity"]}</span>'),
              f["check"], f["message"]] for f in findings]))
    else:
        parts.append(paragraph("No quality findings."))
    return "".join(parts)


def tuning_section(tuning: Mapping[str, Any] | None, plots_dir: Path) -> str:
    if not tuning:
        return ""
    trials = ", ".join(f"{count} {state.lower()}" for state, count in tuning["trials"].items())
    best = ", ".join(map(number, tuning["best_values"]))
    parts = [paragraph(f"Study {escape(tuning['study_name'])} ({escape(tuning['method'])}, "
                       f"pruner {escape(tuning['pruner'])}): {trials}; best trial "
                       f"{tuning['best_trial']} with {best}."),
             table(["parameter", "best value"],
                   [[name, value] for name, value in tuning["best_params"].items()],
                   sortable=False)]
    images = [image(plots_dir / file, name.replace("_", " "))
              for name, file in (tuning.get("plots") or {}).items()
              if (plots_dir / file).is_file()]
    if images:
        parts.append(f'<div class="grid">{"".join(images)}</div>')
    return "".join(parts)


def provenance_section(run: Mapping[str, Any]) -> str:
    git = run.get("git") or {}
    rows = [["choices", " ".join(f"{k}={v}" for k, v in run.get("choices", {}).items())],
            ["git commit", f"{git.get('commit', '–')}{' (dirty)' if git.get('dirty') else ''}"],
            *([name, version] for name, version in (run.get("packages") or {}).items())]
    return table(["", ""], rows, sortable=False)


def _severity_class(severity: str) -> str:
    return {"error": "fail", "warning": "warn"}.get(severity, "muted")


def _read(run_dir: Path, name: str) -> dict[str, Any]:
    path = run_dir / name
    if not path.is_file():
        raise DataError(f"report: {run_dir} has no {name}; give a run directory written by "
                        "python -m engine.")
    return read_json(path)


def _optional(path: Path) -> dict[str, Any]:
    return read_json(path) if path.is_file() else {}
