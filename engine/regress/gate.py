"""The gate end to end: check the suite, run it, compare with the baseline, write the outcome
and say the exit status (0 nothing regressed, 1 something did; a broken suite raises a
ConfigError, which the CLI turns into 2)."""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from engine.errors import ConfigError
from engine.regress.baseline import read_baseline, write_baseline
from engine.regress.guards import FAILING, Check, check_experiment, left_out_timings
from engine.regress.measurement import Measurement
from engine.regress.outcome_files import (
    append_text,
    baseline_line,
    console_table,
    headline,
    junit_xml,
    markdown,
)
from engine.regress.runner import load_suite_data, plan_suite, run_planned
from engine.regress.suite import load_suite
from engine.tracking.files import write_json, write_text

STEP_SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"


def run_gate(suite_path: Path, *, baseline_path: Path | None, update_baseline: bool,
             output_dir: Path, project_dir: Path, jobs: int | None, console: Console,
             extra_overrides: tuple[str, ...] = ()) -> int:
    """Run the suite at ``suite_path`` into ``output_dir`` and return the exit status;
    ``extra_overrides`` are added to every experiment's."""
    started = time.perf_counter()
    suite = load_suite(suite_path, extra_overrides)
    baseline_file = baseline_path or suite.baseline
    try:
        baseline = read_baseline(baseline_file)
    except ConfigError as error:
        if not update_baseline:
            raise
        console.print(f"[yellow]warning[/yellow]: {error} It is rewritten from this run.")
        baseline = None
    planned = plan_suite(suite)
    datasets = load_suite_data(suite, planned)
    workers = jobs or suite.jobs
    console.print(f"suite {suite.name}: {len(planned)} experiments on {len(datasets)} datasets, "
                  f"{min(workers, len(planned))} at a time; baseline {baseline_file}"
                  f"{'' if baseline else ' (none yet: every experiment is new)'}")
    measurements = run_planned(suite, planned, datasets, output_dir=output_dir / "runs",
                               project_dir=project_dir, jobs=workers,
                               on_done=partial(announce_run, console))
    before = baseline.experiments if baseline else {}
    checks = [check for plan in planned for check in [
        *check_experiment(plan.experiment, measurements[plan.experiment.name],
                          before.get(plan.experiment.name), suite.alpha),
        *left_out_timings(plan.experiment, measurements[plan.experiment.name])]]
    write_outcome(suite.name, checks, console=console, output_dir=output_dir,
                  context=baseline_line(baseline.recorded if baseline else None),
                  seconds=time.perf_counter() - started,
                  record={"suite": str(suite_path), "baseline": str(baseline_file)})
    failed = [name for name, measured in measurements.items() if measured.failed]
    if update_baseline:
        if failed:
            console.print(f"[red]baseline not updated[/red]: {', '.join(failed)} failed; fix "
                          "them first (their errors are above).")
            return 1
        write_baseline(baseline_file, suite.name, measurements, project_dir=project_dir,
                       jobs=workers)
        console.print(f"baseline updated: {baseline_file}")
        return 0
    return 1 if any(check.verdict in FAILING for check in checks) else 0


def announce_run(console: Console, measured: Measurement) -> None:
    """One line as each experiment ends: done, or failed and why."""
    state = f"[red]failed[/red]: {measured.error}" if measured.failed else "done"
    console.print(f"  {measured.name}: {state}", highlight=False)


def write_outcome(suite_name: str, checks: list[Check], *, console: Console, output_dir: Path,
                  context: str, seconds: float, record: dict[str, Any]) -> None:
    """Print the table and headline; write regress.md (also appended to
    ``$GITHUB_STEP_SUMMARY``), junit.xml and results.json (``record`` plus the checks)."""
    console.print(console_table(checks))
    console.print(f"[bold]{headline(suite_name, checks)}[/bold] in {seconds:.0f} s",
                  highlight=False)
    text = markdown(suite_name, checks, context)
    files = [write_text(output_dir / "regress.md", text),
             write_text(output_dir / "junit.xml", junit_xml(suite_name, checks, seconds)),
             write_json(output_dir / "results.json", {
                 **record, "seconds": seconds, "checks": [asdict(check) for check in checks]})]
    if os.environ.get(STEP_SUMMARY_VARIABLE):
        files.append(append_text(Path(os.environ[STEP_SUMMARY_VARIABLE]), text))
    console.print("wrote " + ", ".join(str(file) for file in files), highlight=False)
