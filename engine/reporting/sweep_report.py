"""``report.html`` for a sweep: the leaderboard, linked to each job's own report, and the top
runs of each (dataset, metric) group compared: their scores with intervals side by side and
paired tests of the best against the next ones. The markup is in ``templates/sweep_report.html``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from pathlib import Path
from typing import Any

from markupsafe import Markup

from engine.errors import EngineError
from engine.evaluation.run_comparison import compare_runs
from engine.reporting.html_page import number, page, render, table
from engine.reporting.run_report import REPORT_FILE
from engine.tracking.files import write_text
from engine.tracking.records import read_metrics

TEMPLATE = "sweep_report.html"
TOP_RUNS = 3


def write_sweep_report(sweep_dir: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write ``sweep_dir/report.html`` from the ranked leaderboard rows."""
    finished = [row for row in rows if row["status"] == "ok"]
    sections = [("Leaderboard", leaderboard_section(sweep_dir, rows))]
    for (dataset, primary), group in groupby(finished, key=lambda r: (r["dataset"],
                                                                      r["primary"])):
        top = list(group)[:TOP_RUNS]
        sections.append((f"Top runs: {dataset} by {primary}",
                         top_runs_section(sweep_dir, top, primary)))
    failed = len(rows) - len(finished)
    subtitle = f"{len(rows)} jobs, {failed} failed · {sweep_dir}"
    return write_text(sweep_dir / REPORT_FILE,
                      page(f"Sweep {sweep_dir.name}", sections, subtitle=subtitle))


def leaderboard_section(sweep_dir: Path, rows: Sequence[Mapping[str, Any]]) -> Markup:
    return render(TEMPLATE, "leaderboard", report_file=REPORT_FILE, rows=[
        {**row, "linked": (sweep_dir / row["job"] / REPORT_FILE).is_file(),
         "cells": [row["overrides"] or "(defaults)", row["dataset"], row["model"],
                   row.get("primary", ""), row.get("cv_mean"), row.get("cv_std"),
                   row.get("test")]}
        for row in rows])


def top_runs_section(sweep_dir: Path, top: Sequence[Mapping[str, Any]],
                     primary: str) -> Markup:
    metrics = [read_metrics(sweep_dir / row["job"]) for row in top]
    names = list(dict.fromkeys(name for record in metrics for name in record.test))
    header = ["metric", *(f"job {row['job']}: {row['overrides'] or '(defaults)'}"
                          for row in top)]
    body = []
    for name in names:
        cells = [name]
        for record in metrics:
            cv = record.cv.get(name)
            interval = record.test_intervals.get(name)
            cells.append(
                (f"CV {number(cv.mean)} ± {number(cv.std)} · " if cv else "")
                + f"test {number(record.test.get(name))}"
                + (f" [{number(interval.low)}, {number(interval.high)}]" if interval else ""))
        body.append(cells)
    return Markup().join([table(header, body, sortable=False),
                          *(_paired(sweep_dir, top[0], other, primary) for other in top[1:])])


def _paired(sweep_dir: Path, best: Mapping[str, Any], other: Mapping[str, Any],
            primary: str) -> Markup:
    """``engine compare`` of the best job against another, or why they cannot be compared."""
    try:
        comparison = compare_runs(sweep_dir / best["job"], sweep_dir / other["job"],
                                  metric=primary)
    except EngineError as error:
        return render(TEMPLATE, "paired", best=best["job"], other=other["job"], error=str(error),
                      rows=[], verdict="")
    rows = [[result.test, first, second, result.difference,
             f"[{number(result.low)}, {number(result.high)}]", result.p_value]
            for result, first, second in comparison.results]
    return render(TEMPLATE, "paired", best=best["job"], other=other["job"], error="", rows=rows,
                  verdict=comparison.verdict)
