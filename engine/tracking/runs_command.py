"""``python -m engine runs [--dataset D] [--model M] [--sort METRIC] [--limit N] [--format F]``
lists the runs under the output folder; ``python -m engine runs show RUN`` summarises one;
``python -m engine runs sync`` logs to MLflow the runs it does not have yet."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from engine.errors import ConfigError, did_you_mean, options_hint
from engine.tracking.files import default_output_dir, read_json
from engine.tracking.mlflow_tracker import mlflow_state, unlogged_runs
from engine.tracking.records import RunRecord, read_metrics, read_run
from engine.tracking.run_index import IndexedRun, index_runs, read_indexed_run
from engine.tracking.summary import make_console, print_summary

ORDERS = ("time", "seconds")
FORMATS = ("table", "csv", "json")


def runs(args: Sequence[str]) -> None:
    """List runs, or ``runs show RUN``."""
    if args and args[0] in ("show", "sync"):
        (show if args[0] == "show" else sync)(args[1:])
        return
    parser = argparse.ArgumentParser(
        prog="engine runs",
        description="List the runs under the output folder (runs, sweeps' jobs), newest first, "
                    "from their run.json and metrics.json; no model is loaded. "
                    "'engine runs show RUN' summarises one run; 'engine runs sync' logs to MLflow "
                    "the runs it does not have yet.",
    )
    _add_dir(parser)
    parser.add_argument("--dataset", help="only runs on this dataset (e.g. adult)")
    parser.add_argument("--model", help="only runs of this model (e.g. random_forest)")
    parser.add_argument("--status", choices=("ok", "failed", "interrupted"),
                        help="only runs that ended so")
    parser.add_argument("--sort", default="time", metavar="METRIC",
                        help="'time' (newest first, the default), 'seconds' (fastest first) or "
                             "a scorer name such as roc_auc: best test score first (the CV mean "
                             "for a run without a test split); runs without it last")
    parser.add_argument("--limit", type=int, help="show at most this many runs")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (default), csv or json, on stdout")
    options = parser.parse_args(args)
    if options.limit is not None and options.limit < 1:
        raise ConfigError(f"runs --limit {options.limit}: give a count of 1 or more runs to "
                          "show (or leave --limit out to show them all).")
    root = _root(options.dir)
    rows = index_runs(root)
    rows = _only(rows, "dataset", options.dataset)
    rows = _only(rows, "model", options.model)
    if options.status:
        rows = [row for row in rows if row.status == options.status]
    rows = sort_runs(rows, options.sort)[:options.limit]
    if options.format == "json":
        print(json.dumps([_record(row) for row in rows], indent=2))
    elif options.format == "csv":
        sys.stdout.write(runs_csv(rows))
    else:
        _print_table(rows, options.sort, root)


def sort_runs(rows: list[IndexedRun], order: str) -> list[IndexedRun]:
    """Rows in ``order``: ``time`` newest first, ``seconds`` fastest first, or a scorer's name,
    best first (scikit-learn scorers are greater-is-better), runs without that score last."""
    if order == "time":
        return sorted(rows, key=lambda row: -row.finished)
    if order == "seconds":
        return sorted(rows, key=lambda row: (row.seconds is None, row.seconds or 0.0))
    metrics = sorted({name for row in rows for name in (*row.cv, *row.test)})
    if order not in metrics:
        raise ConfigError(
            f"runs --sort {order}: no run has a score named '{order}'."
            f"{did_you_mean(order, [*ORDERS, *metrics])} {options_hint([*ORDERS, *metrics])}")
    return sorted(rows, key=lambda row: _best_first(row.score(order)))


def _best_first(score: float | None) -> tuple[bool, float]:
    return score is None, -(score or 0.0)


def _only(rows: list[IndexedRun], column: str, value: str | None) -> list[IndexedRun]:
    """The rows whose ``column`` is ``value``; a value no run has is refused, with did-you-mean."""
    if value is None:
        return rows
    kept = [row for row in rows if getattr(row, column) == value]
    present = sorted({getattr(row, column) for row in rows} - {""})
    if not kept and present:
        raise ConfigError(f"runs --{column} {value}: no run has {column} '{value}'."
                          f"{did_you_mean(value, present)} {options_hint(present)}")
    return kept


def _record(row: IndexedRun) -> dict[str, Any]:
    """A row as JSON: every field, the path as text."""
    return {"run": row.run, "path": str(row.path), "finished": row.finished_at,
            "status": row.status, "dataset": row.dataset, "model": row.model,
            "primary": row.primary, "objective": row.objective, "cv": row.cv,
            "cv_std": row.cv_std, "test": row.test, "seconds": row.seconds, "study": row.study,
            "error": row.error}


def runs_csv(rows: list[IndexedRun]) -> str:
    """The rows as CSV: the fixed columns, then ``cv_<scorer>`` and ``test_<scorer>`` for every
    scorer any row has."""
    names = sorted({name for row in rows for name in (*row.cv, *row.test)})
    columns = ["run", "finished", "status", "dataset", "model", "primary", "objective", "cv_std",
               "seconds", "study", "error", *(f"cv_{n}" for n in names),
               *(f"test_{n}" for n in names)]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        record = _record(row)
        writer.writerow({**record, **{f"cv_{n}": row.cv.get(n) for n in names},
                         **{f"test_{n}": row.test.get(n) for n in names}})
    return text.getvalue()


def _print_table(rows: list[IndexedRun], order: str, root: Path) -> None:
    console = make_console()
    if not rows:
        console.print(f"no runs under {root}")
        return
    extra = order not in ORDERS and any(order != row.primary for row in rows)
    table = Table(show_edge=False, header_style="bold")
    for column in ("run", "finished", "dataset", "model", "primary", "CV mean ± std", "test",
                   *([order] if extra else []), "seconds", "status"):
        numeric = column in ("CV mean ± std", "test", "seconds", order)
        # Scores keep their line; names fold rather than lose their ends to an ellipsis (a run's
        # name is what `runs show` takes).
        table.add_column(column, no_wrap=numeric, overflow="fold",
                         justify="right" if numeric else "left")
    for row in rows:
        cv = row.cv.get(row.primary)
        table.add_row(
            row.run, row.finished_at, row.dataset, row.model, row.primary,
            f"{cv:.4f} ± {row.cv_std or 0.0:.4f}" if cv is not None else "",
            _number(row.test.get(row.primary)), *([_number(row.score(order))] if extra else []),
            f"{row.seconds:.1f}" if row.seconds is not None else "",
            "ok" if row.status == "ok" else f"[red]{row.status}[/red]: {row.error}",
        )
    console.print(table)
    console.print(f"{len(rows)} run{'' if len(rows) == 1 else 's'} under {root}; details: "
                  "python -m engine runs show RUN")


def show(args: Sequence[str]) -> None:
    """One run's summary, as the run printed it when it ended."""
    parser = argparse.ArgumentParser(prog="engine runs show",
                                     description="Summarise one run from its records.")
    parser.add_argument("run", help="a run as 'engine runs' lists it (runs/<time>) or a run "
                                    "directory")
    _add_dir(parser)
    options = parser.parse_args(args)
    root = _root(options.dir)
    folder = find_run(options.run, root)
    console = make_console()
    row = read_indexed_run(folder, root)
    record = read_run(folder)
    if not isinstance(record, RunRecord):
        console.print(f"{row.run}: {record.status}: {record.error}", highlight=False)
        console.print(_choices(record.choices), highlight=False)
        return
    evaluation = folder / "evaluation.json"
    print_summary(console, record, read_metrics(folder),
                  read_json(evaluation) if evaluation.is_file() else None)
    console.print(_choices(record.choices), highlight=False)
    if record.git.commit:
        console.print(f"git: {record.git.commit}{' (dirty)' if record.git.dirty else ''}")
    report = folder / "report.html"
    if report.is_file():
        console.print(f"report: {report}")
    tracked = mlflow_state(folder)
    if tracked:
        console.print(tracked, highlight=False)


def sync(args: Sequence[str]) -> None:
    """Log to MLflow each run whose config asks for it and that is not logged yet; exit 1 when
    one could not be."""
    parser = argparse.ArgumentParser(
        prog="engine runs sync",
        description="Log to MLflow every finished run (tracking=mlflow) it does not have yet: "
                    "wait for those being logged in the background, log again those whose "
                    "logging was stopped or whose store was down. Run it from the project "
                    "folder (a relative sqlite:/// store is found from there).")
    _add_dir(parser)
    root = _root(parser.parse_args(args).dir)
    console = make_console()
    waiting = list(unlogged_runs(root))
    if not waiting:
        console.print(f"every run under {root} that logs to MLflow is logged")
        return
    from engine.tracking.mlflow_sync import sync_runs

    if sync_runs(waiting, Path.cwd(), console):
        sys.exit(1)


def find_run(name: str, root: Path) -> Path:
    """The run directory ``name`` means: a path to one, or a run as listed under ``root``."""
    for folder in (Path(name), root / name):
        if (folder / "run.json").is_file():
            return folder
    known = [row.run for row in index_runs(root)]
    raise ConfigError(f"runs show {name}: no run directory (with run.json) there or under {root}."
                      f"{did_you_mean(name, known)} List the runs with: python -m engine runs")


def _add_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, help="the output folder to search (default "
                        "$ENGINE_OUTPUT_DIR, else outputs)")


def _root(given: Path | None) -> Path:
    root = given or default_output_dir()
    if not root.is_dir():
        raise ConfigError(f"runs --dir {root}: no such directory; give the folder runs are "
                          "written to (paths.output_dir, default outputs).")
    return root


def _choices(choices: dict[str, str | None]) -> str:
    """The config groups' options, Hydra's own left out: ``choices: dataset=adult model=svm``."""
    return "choices: " + " ".join(f"{group}={option}" for group, option in choices.items()
                                  if option is not None and not group.startswith("hydra/"))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
