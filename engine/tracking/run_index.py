"""An index of the runs under an output folder, read from their typed records (run.json and
metrics.json) without loading any model.

Runs are found where Hydra and the engine put them: ``runs/<time>/``, a sweep's
``multiruns/<time>/<job>/``, a retrained challenger's folder; any directory holding a run.json,
at most :data:`MAX_DEPTH` levels down, and never inside a run (its model, exports and logs)
nor inside a local MLflow store's artifacts (which hold copies of the runs logged there).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.errors import RecordError
from engine.tracking.files import write_json
from engine.tracking.records import METRICS_FILE, RUN_FILE, RunRecord, read_metrics, read_run

MAX_DEPTH = 4
CACHE_FILE = ".runs_index.json"
CACHE_VERSION = 1
ARTIFACTS_DIR = "mlartifacts"
"""Where a local MLflow store (``sqlite:///outputs/mlflow.db``) keeps its artifacts."""


@dataclass(frozen=True)
class IndexedRun:
    """One run's row: what it ran on, how it ended and its scores (CV means and test scores by
    scorer name); ``error`` says why a failed, interrupted or damaged run has no scores."""

    run: str
    path: Path
    finished: float
    status: str
    dataset: str = ""
    model: str = ""
    primary: str = ""
    objective: float | None = None
    cv: dict[str, float | None] = field(default_factory=dict)
    cv_std: float | None = None
    test: dict[str, float | None] = field(default_factory=dict)
    seconds: float | None = None
    study: str = ""
    error: str = ""

    @property
    def finished_at(self) -> str:
        """When run.json was written, local time to the second."""
        return datetime.datetime.fromtimestamp(self.finished).strftime("%Y-%m-%d %H:%M:%S")

    def score(self, metric: str) -> float | None:
        """The run's test score for ``metric``, else its CV mean (a run without a test split)."""
        value = self.test.get(metric)
        return self.cv.get(metric) if value is None else value


def run_dirs(root: Path) -> Iterator[Path]:
    """Every directory under ``root`` holding a run.json (not descending into runs)."""
    pending = [(root, 0)]
    while pending:
        folder, depth = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        if any(entry.name == RUN_FILE and entry.is_file() for entry in entries):
            yield folder
            continue
        if depth < MAX_DEPTH:
            pending += [(Path(entry.path), depth + 1) for entry in entries
                        if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")
                        and entry.name != ARTIFACTS_DIR]


def index_runs(root: Path) -> list[IndexedRun]:
    """A row per run directory under ``root``; a damaged record is a failed row naming it.

    Rows are kept in ``root/.runs_index.json`` with the size and time of the records they were
    read from: a later call reads again only the runs whose records changed (a listing of
    1,000 runs then stats files instead of parsing 2,000 records). A cache that cannot be read
    is rebuilt; one that cannot be written (a read-only folder) is left out.
    """
    cache_file = root / CACHE_FILE
    cached = _read_cache(cache_file)
    rows: list[IndexedRun] = []
    fresh: dict[str, Any] = {}
    for folder in run_dirs(root):
        key, stamp = folder.relative_to(root).as_posix(), _stamp(folder)
        entry = cached.get(key)
        row = (IndexedRun(**{**entry["row"], "path": folder}) if entry and entry["stamp"] == stamp
               else read_indexed_run(folder, root))
        rows.append(row)
        values: dict[str, Any] = {**asdict(row), "path": None}  # the folder is the key
        fresh[key] = {"stamp": stamp, "row": values}
    if fresh != cached:
        with contextlib.suppress(OSError):
            write_json(cache_file, {"version": CACHE_VERSION, "runs": fresh})
    return rows


def _stamp(folder: Path) -> list[int]:
    """Size and modification time (ns) of run.json and metrics.json (zeros when absent)."""
    stamp = []
    for name in (RUN_FILE, METRICS_FILE):
        try:
            status = (folder / name).stat()
            stamp += [status.st_size, status.st_mtime_ns]
        except OSError:
            stamp += [0, 0]
    return stamp


def _read_cache(path: Path) -> dict[str, Any]:
    """The cached rows by run, or none when the cache is absent, damaged or of another version."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    runs = data.get("runs")
    return runs if isinstance(runs, dict) else {}


def read_indexed_run(folder: Path, root: Path) -> IndexedRun:
    """One run's row, from its records."""
    name = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder)
    finished = (folder / RUN_FILE).stat().st_mtime
    try:
        record = read_run(folder)
    except RecordError as error:
        return IndexedRun(name, folder, finished, "failed", error=str(error))
    if not isinstance(record, RunRecord):
        return IndexedRun(name, folder, finished, record.status, dataset=_choice(record.choices,
                          "dataset"), model=_choice(record.choices, "model"), error=record.error)
    row = IndexedRun(name, folder, finished, record.status, dataset=record.dataset.name,
                     model=record.model, primary=record.primary, objective=record.objective,
                     seconds=record.timing.total_seconds, error=record.error or "")
    try:
        metrics = read_metrics(folder)
    except RecordError as error:
        return replace(row, status="failed", error=str(error))
    primary_cv = metrics.cv.get(metrics.primary)
    return replace(row, cv={name: scores.mean for name, scores in metrics.cv.items()},
                   cv_std=primary_cv.std if primary_cv else None, test=dict(metrics.test),
                   study=metrics.tuning.study_name if metrics.tuning else "")


def _choice(choices: dict[str, str | None], group: str) -> str:
    return choices.get(group) or ""
