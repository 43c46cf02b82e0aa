"""The leaderboard a sweep ends with: jobs ranked by their primary metric, failures listed."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from rich.table import Table

from engine.errors import RecordError
from engine.reporting.sweep_report import write_sweep_report
from engine.tracking.files import atomic_path, read_yaml, write_text
from engine.tracking.records import RUN_FILE, read_metrics, read_run
from engine.tracking.summary import make_console

COLUMNS = ("rank", "job", "overrides", "dataset", "model", "primary", "cv_mean", "cv_std", "test",
           "status", "error")
RERUN_SWEEP = "Run the sweep again to write it."


def collect_jobs(sweep_dir: Path) -> list[dict[str, Any]]:
    """One row per job directory of a sweep, from its run.json and metrics.json; a job whose
    records are missing (killed) or damaged is a failed row saying so."""
    rows = []
    job_dirs = [d for d in sweep_dir.iterdir() if d.is_dir() and (d / ".hydra").is_dir()]
    for job_dir in sorted(job_dirs, key=lambda d: int(d.name) if d.name.isdigit() else d.name):
        overrides_file = job_dir / ".hydra" / "overrides.yaml"
        overrides = read_yaml(overrides_file, fix=RERUN_SWEEP) if overrides_file.exists() else []
        row: dict[str, Any] = {"job": job_dir.name, "overrides": " ".join(overrides or []),
                               "status": "failed", "error": "killed", "model": "", "dataset": ""}
        if (job_dir / RUN_FILE).exists():
            try:
                row.update(_job_results(job_dir))
            except RecordError as error:
                row.update(status="failed", error=str(error))
        rows.append(row)
    return rows


def _job_results(job_dir: Path) -> dict[str, Any]:
    """The leaderboard's columns from one job's records."""
    run = read_run(job_dir)
    row: dict[str, Any] = {"status": run.status, "error": run.error or "",
                           "model": run.choices.get("model") or "",
                           "dataset": run.choices.get("dataset") or ""}
    if run.status == "ok":
        metrics = read_metrics(job_dir)
        cv = metrics.cv.get(metrics.primary)
        row.update(primary=metrics.primary, cv_mean=cv.mean if cv else None,
                   cv_std=cv.std if cv else None, test=metrics.test.get(metrics.primary),
                   objective=metrics.objective)
    return row


def rank_jobs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rank finished jobs within each (dataset, primary metric), best first; failures last.

    Scores of different datasets or metrics are not comparable, so each group ranks from 1.
    """
    finished = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    finished.sort(key=lambda r: (r["dataset"], r["primary"], -_number(r["objective"])))
    previous, rank = None, 0
    for row in finished:
        group = (row["dataset"], row["primary"])
        rank = 1 if group != previous else rank + 1
        row["rank"], previous = rank, group
    for row in failed:
        row["rank"] = ""
    return finished + failed


def write_leaderboard(rows: list[dict[str, Any]], sweep_dir: Path) -> tuple[Path, Path]:
    """leaderboard.csv and leaderboard.md in the sweep directory."""
    csv_path, md_path = sweep_dir / "leaderboard.csv", sweep_dir / "leaderboard.md"
    with atomic_path(csv_path) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in COLUMNS) + " |" for row in rows]
    return csv_path, write_text(md_path, "\n".join(lines) + "\n")


def leaderboard_table(rows: list[dict[str, Any]]) -> Table:
    """The leaderboard for the console."""
    table = Table(title="leaderboard", show_edge=False, header_style="bold")
    for column in ("rank", "job", "overrides", "primary", "CV mean ± std", "test", "status"):
        table.add_column(column, no_wrap=column not in ("overrides", "status"))
    for row in rows:
        ok = row["status"] == "ok"
        has_cv = ok and row["cv_mean"] is not None
        table.add_row(
            str(row["rank"]),
            row["job"],
            row["overrides"] or "(defaults)",
            row.get("primary", "") if ok else "",
            f"{row['cv_mean']:.4f} ± {row['cv_std']:.4f}" if has_cv else "",
            f"{row['test']:.4f}" if ok and row["test"] is not None else "",
            "ok" if ok else f"[red]failed[/red]: {row['error']}",
        )
    return table


class LeaderboardCallback(Callback):
    """Writes and prints the leaderboard when a multirun ends; exits 1 if any job failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = rank_jobs(collect_jobs(sweep_dir))
        csv_path, md_path = write_leaderboard(rows, sweep_dir)
        console = make_console()
        console.print(leaderboard_table(rows))
        console.print(f"leaderboard: {csv_path} and {md_path}")
        console.print(f"report: {write_sweep_report(sweep_dir, rows)}")
        failed = [row for row in rows if row["status"] != "ok"]
        if failed:
            console.print(f"[red]{len(failed)} of {len(rows)} jobs failed[/red]")
            raise SystemExit(1)


def _number(value: float | None) -> float:
    return float("-inf") if value is None else value


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value).replace("|", "\\|")
