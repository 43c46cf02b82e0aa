"""Where a lifecycle's rows come from: files matched by a glob, a SQL query, the prediction log
joined with its labels, or (no source) the champion's own dataset read again. Every source
gives the model's input columns, its target (missing where no label came yet) and, where known,
a time column."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from engine.config.schema.lifecycle import FilesSource, LifecycleConfig, LogSource, SqlSource
    from engine.deploy.bundle import Bundle

DATA_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class SourceRows:
    """The rows a source holds now, in time (else source) order."""

    frame: pd.DataFrame
    time_column: str | None
    description: str
    files: list[str] = field(default_factory=list)
    parts: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    """Each file's rows, by its path: a column added or dropped in one file is named there."""


def read_source(config: LifecycleConfig, bundle: Bundle, champion: dict[str, Any],
                run_dir: Path) -> SourceRows:
    """The lifecycle's rows; ``champion`` is the champion run's whole config and ``run_dir``
    its run directory (where its prediction log lives by default)."""
    from engine.config.schema.lifecycle import FilesSource, SqlSource

    source, dataset = config.source, champion["dataset"]
    declared = config.window.time_column
    if source is None:
        rows = _dataset_rows(dataset, int(champion.get("seed", 0)))
    elif isinstance(source, FilesSource):
        rows = _files(source, bundle)
    elif isinstance(source, SqlSource):
        rows = _sql(source)
    else:
        rows = _log(source, bundle, run_dir)
    time_column = declared or rows.time_column or dataset.get("time_column")
    frame = rows.frame
    if time_column is not None:
        if time_column not in frame.columns:
            from engine.errors import did_you_mean

            raise DataError(f"lifecycle time column '{time_column}': not a column of "
                            f"{rows.description}.{did_you_mean(time_column, map(str, frame))} "
                            "Set lifecycle.window.time_column to one, or null for row order.")
        frame = _in_time_order(frame, time_column, rows.description)
    return SourceRows(frame.reset_index(drop=True), time_column, rows.description, rows.files,
                      rows.parts)


def _in_time_order(frame: pd.DataFrame, column: str, description: str) -> pd.DataFrame:
    import pandas as pd

    try:
        times = pd.to_datetime(frame[column], utc=True, format="ISO8601") \
            if not pd.api.types.is_datetime64_any_dtype(frame[column]) \
            else pd.to_datetime(frame[column], utc=True)
    except (ValueError, TypeError) as error:
        raise DataError(f"lifecycle time column '{column}' of {description}: not times "
                        f"({error}); write ISO 8601 times such as 2026-12-01T10:00:00Z.") from None
    frame = frame.assign(**{column: times})
    return frame.sort_values(column, kind="stable")


def _files(source: FilesSource, bundle: Bundle) -> SourceRows:
    import pandas as pd

    from engine.deploy.batch_predict import read_rows

    paths = sorted(Path(found) for found in glob.glob(source.path, recursive=True)
                   if Path(found).suffix.lower() in DATA_SUFFIXES)
    if not paths:
        raise DataError(f"lifecycle.source.path: no .csv or .parquet file matches "
                        f"'{source.path}' (resolved from {Path.cwd()}); point it at the files "
                        "new rows land in, e.g. data/batches/*.csv.")
    frames = [read_rows(path, bundle.metadata.reading) for path in paths]
    return SourceRows(pd.concat(frames, ignore_index=True), source.time_column,
                      f"{len(paths)} file(s) matching {source.path}", [str(p) for p in paths],
                      [(str(path), frame) for path, frame in zip(paths, frames, strict=True)])


def _sql(source: SqlSource) -> SourceRows:
    from engine.config.schema.dataset import SqlDataset
    from engine.data.sql_source import read_sql

    dataset = SqlDataset(source="sql", url=source.url, query=source.query)
    return SourceRows(read_sql(dataset, seed=0), source.time_column,
                      f"the query of lifecycle.source.url {source.url}")


def _log(source: LogSource, bundle: Bundle, run_dir: Path) -> SourceRows:
    from engine.deploy.batch_predict import read_rows
    from engine.monitoring.columns import TARGET, TIME
    from engine.monitoring.prediction_log import bundle_monitor, join_labels, log_root, read_log

    settings, _ = bundle_monitor(bundle)
    root = Path(source.path) if source.path else log_root(settings.log, run_dir)
    inputs = [column["name"] for column in bundle.schema["columns"]
              if column["name"] not in settings.log.exclude]
    frame = read_log(root, columns=inputs)
    if source.labels is not None:
        labels = read_rows(Path(source.labels), bundle.metadata.reading)
        frame = join_labels(frame, labels, key=source.key, target=bundle.metadata.target)
    target = bundle.metadata.target
    frame = frame[[*inputs, TIME, TARGET]].rename(columns={TARGET: target})
    return SourceRows(frame, TIME, f"the prediction log {root}")


def _dataset_rows(dataset: dict[str, Any], seed: int) -> SourceRows:
    """The champion's dataset read again: a file or a table that grew."""
    from engine.config.schema import parse_dataset
    from engine.data.sources import SOURCES

    parsed = parse_dataset(dataset)
    frame = SOURCES[parsed.source](parsed, seed=seed)
    frame.columns = [str(column) for column in frame.columns]
    place = getattr(parsed, "path", None) or getattr(parsed, "url", None) or parsed.source
    return SourceRows(frame, parsed.time_column, f"the champion's dataset ({place})")
