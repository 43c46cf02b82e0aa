"""The prediction log: what a model predicted, kept as Parquet files partitioned by day.

Layout (``<root>`` is ``monitor.log.path``, by default ``<run directory>/prediction_log``)::

    <root>/predictions/day=2026-12-01/part-<pid>-<uuid>.parquet   inputs, predictions, ids
    <root>/feedback/day=2026-12-01/part-<pid>-<uuid>.parquet      labels sent later

:class:`PredictionLog` takes rows on the caller's thread with one queue put and writes them on
its own thread, one file per flush (``flush_rows`` rows or ``flush_seconds``), under a name no
other process uses, through a temporary name: several server processes share one folder
without locking, and a reader never sees half a file. :func:`read_log` reads the days of a
window back (types unified across files) with the feedback joined as ``_target`` (labels)
and ``_outcome`` (business values); :func:`join_labels` attaches a labels file;
:func:`compact` merges each closed day's files into one and deletes days past the retention.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine.config.schema import parse_section
from engine.config.schema.monitor import LogConfig, MonitorConfig
from engine.errors import ConfigError, DataError, did_you_mean, first_line
from engine.monitoring.columns import (
    LATENCY_MS,
    MODEL,
    OUTCOME,
    PREDICTION,
    PROBABILITY,
    REGISTERED,
    REQUEST_ID,
    ROW,
    TARGET,
    TIME,
    VARIANT,
    VERSION,
)
from engine.tracking.files import write_atomically
from engine.tracking.records import ReferenceProfile

if TYPE_CHECKING:
    from engine.deploy.bundle import Bundle

PREDICTIONS = "predictions"
FEEDBACK = "feedback"
DAY = "day="
LOG_DIR = "prediction_log"
CLOSED_AFTER = timedelta(hours=1)
"""A day is compacted once it ended this long ago: a server's buffer flushed just after
midnight may still add a file to it."""
COMPACTION_LOCK = ".compacting"
STALE_LOCK = timedelta(hours=1)
LOG = logging.getLogger("engine.monitoring")


def log_root(settings: LogConfig, run_dir: Path) -> Path:
    """Where a model's log lives: ``monitor.log.path``, else ``<run directory>/prediction_log``."""
    return Path(settings.path) if settings.path else run_dir / LOG_DIR


def bundle_monitor(bundle: Bundle) -> tuple[MonitorConfig, ReferenceProfile | None]:
    """The ``monitor`` settings a bundle was trained with, and its reference profile; the
    defaults and None for a bundle an older engine wrote (it still serves and logs)."""
    from engine.deploy.bundle import REFERENCE_FILE, read_sealed
    from engine.monitoring.profile import load_reference

    if read_sealed(bundle.directory, REFERENCE_FILE) is None:
        return MonitorConfig(), None
    profile = load_reference(bundle).profile
    return parse_section(MonitorConfig, profile.monitor, "monitor."), profile


def open_log(bundle: Bundle, settings: LogConfig, *, root: Path | None = None,
             version: str | None = None, registered: str | None = None,
             variant: str | None = None,
             on_written: Callable[[int], None] | None = None,
             upkeep_seconds: float | None = None) -> PredictionLog:
    """A log of ``bundle``'s predictions: its input columns, and the columns its training
    dropped (ids) where rows carry them; under ``root``, else where ``settings`` say."""
    return PredictionLog(root or log_root(settings, bundle.directory.parent), settings,
                         columns=[column["name"] for column in bundle.schema["columns"]],
                         model=bundle.metadata.model, version=version,
                         registered=registered, variant=variant,
                         sent=sent_columns(bundle.schema),
                         kept=bundle.metadata.reading.drop or (), on_written=on_written,
                         upkeep_seconds=upkeep_seconds)


@dataclass(frozen=True)
class _Served:
    inputs: pd.DataFrame
    predictions: pd.DataFrame
    request_id: str
    at: float
    received: pd.DataFrame | None
    latency_ms: float | None
    positions: Sequence[int] | None


@dataclass(frozen=True)
class _Label:
    request_id: str
    row: int | None
    label: Any
    outcome: float | None
    at: float


@dataclass
class _Buffer:
    served: list[_Served] = field(default_factory=list)
    labels: list[_Label] = field(default_factory=list)
    rows: int = 0
    since: float | None = None  # monotonic time of the first item buffered


class PredictionLog:
    """Writes served rows and feedback to ``root`` on a thread of its own.

    ``record`` and ``record_feedback`` only queue what they are given, so a request pays for a
    queue put; excluded columns are dropped and hashed ones digested on the log's thread.
    ``columns`` are the input columns to log (the model's), those in ``sent`` as the request
    sent them (see :func:`sent_columns`); ``kept`` are columns logged when a request carries
    them (ids the training dropped, which a labels file may be keyed by). ``version`` and
    ``registered`` (``churn/2``) tag each row with the registered version that answered it
    (``_version``, ``_registered``; None for a run directory), ``variant`` with the online
    experiment's variant (``_variant``).
    ``on_written`` is told how many prediction rows each file held. ``close`` writes what is
    left and stops the thread. With ``upkeep_seconds`` the thread also runs :func:`compact`
    (``retention_days``) at its start and then that often: a server does, a one-off
    ``predict --log`` does not.
    """

    def __init__(self, root: Path, settings: LogConfig, *, columns: Sequence[str], model: str,
                 version: str | None = None, registered: str | None = None,
                 variant: str | None = None,
                 sent: Sequence[str] = (), kept: Sequence[str] = (),
                 on_written: Callable[[int], None] | None = None,
                 upkeep_seconds: float | None = None) -> None:
        for key in ("exclude", "hash"):
            for name in getattr(settings, key):
                if name not in columns and name not in kept:
                    raise ConfigError(
                        f"monitor.log.{key}: '{name}' is not an input column of model "
                        f"{model}.{did_you_mean(name, [*columns, *kept])} Its input columns: "
                        f"{', '.join(columns)}.")
        self.root = root
        self._settings = settings
        self._columns = [c for c in columns if c not in settings.exclude]
        self._sent = [c for c in sent if c in self._columns]
        self._kept = [c for c in kept if c not in settings.exclude]
        self._model, self._version, self._variant = model, version, variant
        self._registered = registered
        self._on_written = on_written or (lambda rows: None)
        self._upkeep_seconds = upkeep_seconds
        self._queue: queue.SimpleQueue[_Served | _Label | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def record(self, inputs: pd.DataFrame, predictions: pd.DataFrame, *, request_id: str,
               received: pd.DataFrame | None = None, at: datetime | None = None,
               latency_ms: float | None = None, positions: Sequence[int] | None = None
               ) -> None:
        """Log one request's rows: ``inputs`` as the model read them, ``received`` as sent
        (``inputs`` when None), ``predictions`` as ``predict_features`` gives them
        (``prediction``, ``proba_<class>``). ``at``: when they were predicted (now);
        ``latency_ms``: the request's server-side latency; ``positions``: the rows' places in
        their request (``0, 1, ...`` when None; a request split across variants logs each
        variant's rows with their own places)."""
        moment = at.timestamp() if at is not None else time.time()
        self._queue.put(_Served(inputs, predictions, request_id, moment, received, latency_ms,
                                positions))

    def record_feedback(self, request_id: str, label: Any, *, row: int | None = None,
                        outcome: float | None = None, at: datetime | None = None) -> None:
        """Log a label (None: none sent) and/or a business ``outcome`` for one row of a
        request (``row`` None: for each of its rows)."""
        self._queue.put(_Label(request_id, row, label, outcome,
                               at.timestamp() if at is not None else time.time()))

    def close(self) -> None:
        """Write what is buffered, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        buffer = _Buffer()
        upkeep = time.monotonic() if self._upkeep_seconds else None
        while True:
            if upkeep is not None and time.monotonic() >= upkeep:
                self._keep_up()
                upkeep = time.monotonic() + (self._upkeep_seconds or 0)
            flush = None if buffer.since is None else buffer.since + self._settings.flush_seconds
            if flush is not None and (buffer.rows >= self._settings.flush_rows or
                                      time.monotonic() >= flush):
                buffer, flush = self._flush(buffer), None
            due = [moment for moment in (upkeep, flush) if moment is not None]
            try:
                item = self._queue.get(timeout=max(0.0, min(due) - time.monotonic())
                                       if due else None)
            except queue.Empty:
                continue
            if item is None:
                self._flush(buffer)
                return
            if isinstance(item, _Served):
                buffer.served.append(item)
                buffer.rows += len(item.inputs)
            else:
                buffer.labels.append(item)
                buffer.rows += 1
            buffer.since = time.monotonic() if buffer.since is None else buffer.since

    def _keep_up(self) -> None:
        """Compact the log and enforce its retention; another process doing it already, or a
        log not written yet, is no error."""
        if not self.root.is_dir():
            return
        try:
            done = compact(self.root, retention_days=self._settings.retention_days)
        except DataError as error:
            LOG.info("%s", error)
        except Exception:
            LOG.exception("prediction log %s: compaction failed", self.root)
        else:
            if done.merged or done.deleted:
                LOG.info("prediction log %s: merged %s; deleted %s (past the retention)",
                         self.root, ", ".join(done.merged) or "nothing",
                         ", ".join(done.deleted) or "nothing")

    def _flush(self, buffer: _Buffer) -> _Buffer:
        """Write the buffer's rows (a failure is logged and the rows dropped: the server must
        go on answering); an empty buffer to fill next."""
        try:
            if buffer.served:
                frame = self._prediction_frame(buffer.served)
                _write_days(self.root / PREDICTIONS, frame)
                self._on_written(len(frame))
            if buffer.labels:
                _write_days(self.root / FEEDBACK, _feedback_frame(buffer.labels))
        except Exception:
            LOG.exception("prediction log %s: %d rows could not be written", self.root,
                          buffer.rows)
        return _Buffer()

    def _prediction_frame(self, served: list[_Served]) -> pd.DataFrame:
        frame = as_sent([item.inputs for item in served], [item.received for item in served],
                        [*self._sent, *self._kept])
        inputs = frame[[*self._columns, *(name for name in self._kept if name in frame)]]
        predictions = pd.concat([item.predictions for item in served], ignore_index=True)
        predictions = predictions.rename(columns=lambda name: PREDICTION if name == "prediction"
                                         else PROBABILITY + name.removeprefix("proba_"))
        counts = [len(item.inputs) for item in served]
        ids = pd.DataFrame({
            REQUEST_ID: np.repeat([item.request_id for item in served], counts),
            ROW: np.concatenate([np.arange(count) if item.positions is None else
                                 np.asarray(item.positions, dtype=np.int64)
                                 for item, count in zip(served, counts, strict=True)]),
            TIME: pd.to_datetime(np.repeat([item.at for item in served], counts), unit="s",
                                 utc=True),
            MODEL: self._model, VERSION: self._version, REGISTERED: self._registered})
        if self._variant is not None:
            ids[VARIANT] = self._variant
        if any(item.latency_ms is not None for item in served):
            ids[LATENCY_MS] = np.repeat([np.nan if item.latency_ms is None else item.latency_ms
                                         for item in served], counts)
        for name in self._settings.hash:
            if name in inputs:
                inputs[name] = hashed(inputs[name])
        return pd.concat([inputs, predictions, ids], axis=1)



def as_sent(inputs: Sequence[pd.DataFrame], received: Sequence[pd.DataFrame | None],
            columns: Sequence[str]) -> pd.DataFrame:
    """Requests' rows as one frame: ``inputs`` (as the model read them), with ``columns``
    taken from ``received`` (as sent) where a request's rows carry them. One concatenation
    for many requests: done per request, pandas' per-frame costs would be most of a log's."""
    frame = pd.concat(inputs, ignore_index=True)
    if not columns:
        return frame
    sent = pd.concat([rows if rows is not None else inputs[index]
                      for index, rows in enumerate(received)], ignore_index=True)
    for name in columns:
        if name in sent:
            frame[name] = sent[name].to_numpy()
    return frame


def sent_columns(schema: Mapping[str, Any]) -> list[str]:
    """The columns a bundle reads as pandas categories, which hold a category unseen in
    training as missing: a log and a drift window take them as sent."""
    return [column["name"] for column in schema["columns"] if column["dtype"] == "category"]


def hashed(values: pd.Series) -> pd.Series:
    """Each value's SHA-256 hex digest of its text (missing stays missing)."""
    return values.map(lambda value: None if _missing(value) else
                      hashlib.sha256(str(value).encode()).hexdigest()).astype(object)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _feedback_frame(labels: list[_Label]) -> pd.DataFrame:
    return pd.DataFrame({
        REQUEST_ID: [label.request_id for label in labels],
        ROW: pd.array([label.row for label in labels], dtype="Int64"),
        TARGET: pd.Series([label.label for label in labels], dtype=object),
        OUTCOME: pd.Series([label.outcome for label in labels], dtype=float),
        TIME: pd.to_datetime([label.at for label in labels], unit="s", utc=True)})


def _write_days(folder: Path, frame: pd.DataFrame) -> None:
    """One file per day the rows fall on, each under a name unique to this process."""
    for day, rows in frame.groupby(frame[TIME].dt.strftime("%Y-%m-%d"), sort=False):
        path = folder / f"{DAY}{day}" / f"part-{os.getpid()}-{uuid.uuid4().hex}.parquet"
        _write_table(path, _table(rows.reset_index(drop=True)))


def _write_table(path: Path, table: pa.Table) -> None:
    write_atomically(path, lambda temporary: pq.write_table(table, temporary))


def _table(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as Arrow; an object column mixing kinds (a category sent as text in one row
    and as a number in another) is written as text."""
    for name in [name for name in frame.columns if pd.api.types.is_object_dtype(frame[name])]:
        try:
            pa.array(frame[name], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            frame[name] = frame[name].map(lambda value: None if _missing(value) else str(value))
    return pa.Table.from_pandas(frame, preserve_index=False)


def read_log(root: Path, *, since: datetime | None = None, until: datetime | None = None,
             columns: Sequence[str] = ()) -> pd.DataFrame:
    """The predictions logged from ``since`` (inclusive) to ``until`` (exclusive) in time
    order, the latest feedback for each row joined as ``_target`` (missing where none came).
    Only the day folders in the window are read; naive datetimes are UTC. ``columns`` (a
    model's input columns, less those the log excludes) must all be in the log."""
    since, until = _utc(since), _utc(until)
    days = _days(root / PREDICTIONS)
    if not days:
        raise DataError(f"prediction log '{root}': no predictions logged there (no "
                        f"{PREDICTIONS}/{DAY}YYYY-MM-DD folder holds a file). Serve the model "
                        "(logging is on by default) or predict with --log, or pass the log's "
                        "folder (monitor.log.path).")
    chosen = [folder for day, folder in days.items() if
              (since is None or day >= since.date()) and (until is None or day <= until.date())]
    frame = _read_folders(chosen)
    if since is not None:
        frame = frame[frame[TIME] >= pd.Timestamp(since)]
    if until is not None:
        frame = frame[frame[TIME] < pd.Timestamp(until)]
    if frame.empty:
        first, last = min(days), max(days)
        raise DataError(f"prediction log '{root}': no predictions from "
                        f"{_shown(since, 'its start')} to {_shown(until, 'its end')}; it holds "
                        f"days {first} to {last}. Widen --since/--until.")
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataError(f"prediction log '{root}': no column {', '.join(map(repr, missing))}, "
                        f"which the model reads (the log holds {', '.join(map(str, frame))}); "
                        "it was written for another model: pass that model's log.")
    if not _in_order(frame):  # a log written in time order is not sorted (copied) again
        frame = frame.sort_values([TIME, REQUEST_ID, ROW], kind="stable")
    frame = frame.reset_index(drop=True)
    feedback_days = {day: folder for day, folder in _days(root / FEEDBACK).items()
                     if since is None or day >= since.date()}  # labels come after predictions
    return _join_feedback(frame, _read_folders(list(feedback_days.values())))


def _in_order(frame: pd.DataFrame) -> bool:
    """Whether the rows already are in ``(_time, _request_id, _row)`` order, as a stable sort
    by those keys would leave them (False where a key is missing or not comparable)."""
    times = frame[TIME]
    if not isinstance(times.dtype, pd.DatetimeTZDtype) or REQUEST_ID not in frame \
            or ROW not in frame or times.isna().any():
        return False
    stamps = times.array.asi8
    if (stamps[1:] < stamps[:-1]).any():
        return False
    tied = np.flatnonzero(stamps[1:] == stamps[:-1])  # same time: the request id, then row
    if not tied.size:
        return True
    ids, rows = frame[REQUEST_ID], frame[ROW]
    if ids.isna().any() or rows.isna().any() or not pd.api.types.is_numeric_dtype(rows):
        return False
    texts, numbers = ids.to_numpy(dtype=object), rows.to_numpy()
    try:
        first, second = texts[tied], texts[tied + 1]
        return bool(((first < second) | ((first == second)
                                         & (numbers[tied] <= numbers[tied + 1]))).all())
    except TypeError:  # ids of mixed kinds: let the sort decide
        return False


def join_labels(log: pd.DataFrame, labels: pd.DataFrame, *, key: str,
                target: str | None = None) -> pd.DataFrame:
    """``log`` with ``labels`` attached as ``_target`` where they match by ``key``
    (``_request_id``, then ``_row`` where the labels file has one, or an input column); a
    later label of a key overrides an earlier one and a row no label matches keeps what it had.
    The label column is ``target``, else ``_target``, else the one column beside the key."""
    for frame, what in ((log, "the prediction log"), (labels, "the labels file")):
        if key not in frame.columns:
            raise DataError(f"labels --key: '{key}' is not a column of {what}."
                            f"{did_you_mean(key, map(str, frame.columns))} Its columns: "
                            f"{', '.join(map(str, frame.columns))}.")
    label = _label_column(labels, key, target)
    if key == REQUEST_ID:
        feedback = pd.DataFrame({
            REQUEST_ID: labels[REQUEST_ID].astype(str),
            ROW: labels[ROW] if ROW in labels else pd.Series(pd.NA, index=labels.index),
            TARGET: labels[label], TIME: np.arange(len(labels))})
        joined = _join_feedback(log.drop(columns=TARGET, errors="ignore"), feedback)
        found = joined[TARGET]
    else:
        left, right = _comparable(log[key], labels[key])
        by_key = pd.Series(labels[label].to_numpy(), index=right).groupby(level=0).last()
        found = pd.Series(left.map(by_key).to_numpy(), index=log.index)
    matched = found.notna()
    if not matched.any():
        shown = ", ".join(repr(v) for v in labels[key].drop_duplicates().head(3))
        raise DataError(f"labels: none of the {len(labels)} labels matches a logged prediction "
                        f"by '{key}' (the file's keys: {shown} ...); check --key and that "
                        "--since/--until cover the predictions the labels are for.")
    out = log.copy(deep=False)  # copy-on-write: the caller's frame keeps its columns
    out[TARGET] = found.where(matched, log[TARGET]) if TARGET in log else found
    return out


def _label_column(labels: pd.DataFrame, key: str, target: str | None) -> str:
    if target is not None and target in labels:
        return target
    if TARGET in labels:
        return TARGET
    others = [str(c) for c in labels.columns if c not in (key, ROW)]
    if len(others) == 1:
        return others[0]
    raise DataError(f"labels: which column is the label? Name it '{TARGET}' (or "
                    f"{target or 'the target'}), or keep only '{key}' and the label; the file "
                    f"has {', '.join(others) or 'no other column'}.")


def _comparable(left: pd.Series, right: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Two key columns that compare: as they are when both are numbers or both text, else as
    text (a CSV's id column read as numbers against a log that kept it as text)."""
    numeric = pd.api.types.is_numeric_dtype
    if numeric(left) == numeric(right):
        return left, right
    return left.astype(str), right.astype(str)


def _join_feedback(predictions: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """The latest label (``_target``) and outcome (``_outcome``) of each row, each on its own:
    one sent for the row, or one for its whole request (``_row`` missing), whichever came
    later; feedback that carried no label does not erase one sent before."""
    out = predictions.copy(deep=False)  # copy-on-write: the caller's frame keeps its columns
    for column in (TARGET, OUTCOME):
        sent = feedback[feedback[column].notna()] if column in feedback else feedback.iloc[:0]
        out[column] = _latest(out, sent, column) if not sent.empty else np.nan
    return out


def _latest(out: pd.DataFrame, feedback: pd.DataFrame, column: str) -> np.ndarray:
    """Each of ``out``'s rows' latest ``column`` in ``feedback`` (missing where none came)."""
    feedback = feedback.sort_values(TIME, kind="stable")
    for_request = feedback[feedback[ROW].isna()].drop_duplicates(REQUEST_ID, keep="last")
    for_row = feedback[feedback[ROW].notna()].astype({ROW: "int64"}).drop_duplicates(
        [REQUEST_ID, ROW], keep="last")
    keys = out[[REQUEST_ID, ROW]]
    row_label = keys.merge(for_row[[REQUEST_ID, ROW, column, TIME]], how="left",
                           on=[REQUEST_ID, ROW])
    request_label = keys.merge(for_request[[REQUEST_ID, column, TIME]], how="left",
                               on=REQUEST_ID)
    use_request = request_label[TIME].notna() & (
        row_label[TIME].isna() | (request_label[TIME] > row_label[TIME]))
    return row_label[column].where(~use_request, request_label[column]).to_numpy()


@dataclass(frozen=True)
class Compaction:
    """What :func:`compact` did: the day folders merged into one file, and those deleted."""

    merged: list[str]
    deleted: list[str]


def compact(root: Path, *, retention_days: int, now: datetime | None = None) -> Compaction:
    """Merge each closed day's files into one (predictions and feedback), and delete the days
    more than ``retention_days`` before ``now``'s day. A merged day is built beside its folder
    and swapped in, so a reader sees its old files or the merged one, never both."""
    if not root.is_dir():
        raise DataError(f"prediction log '{root}': no such folder to compact (monitor.log.path).")
    now = _utc(now) or datetime.now(UTC)
    oldest = now.date() - timedelta(days=retention_days)
    merged, deleted = [], []
    with _compaction_lock(root):
        for part in (PREDICTIONS, FEEDBACK):
            for day, folder in _days(root / part).items():
                name = f"{part}/{folder.name}"
                if day < oldest:
                    shutil.rmtree(folder)
                    deleted.append(name)
                elif now >= datetime(day.year, day.month, day.day, tzinfo=UTC) + \
                        timedelta(days=1) + CLOSED_AFTER and _merge_day(folder):
                    merged.append(name)
    return Compaction(merged, deleted)


@contextmanager
def _compaction_lock(root: Path) -> Iterator[None]:
    """One compaction of a log at a time (writers need no lock: each writes its own files).
    A lock left by a process killed while compacting is taken over once it is an hour old."""
    lock = root / COMPACTION_LOCK
    try:
        descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        since = datetime.fromtimestamp(lock.stat().st_mtime, UTC)
        if datetime.now(UTC) - since < STALE_LOCK:
            raise DataError(f"prediction log '{root}': another process has been compacting it "
                            f"since {since:%Y-%m-%d %H:%M:%S} UTC ({lock}); try again later, or "
                            "delete that file if no process is.") from None
        lock.unlink(missing_ok=True)
        descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.close(descriptor)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _merge_day(folder: Path) -> bool:
    """Replace a day folder of several files with one holding their rows in time order."""
    parts = _parts(folder)
    if len(parts) < 2:
        return False
    table = _concat([_read_part(path) for path in parts])
    table = table.take(pc.sort_indices(table, [(TIME, "ascending")]))
    token = uuid.uuid4().hex
    staging = folder.with_name(f".{folder.name}.new-{token}")
    aside = folder.with_name(f".{folder.name}.old-{token}")
    try:
        staging.mkdir()
        _write_table(staging / f"part-{os.getpid()}-{token}.parquet", table)
        os.rename(folder, aside)
        os.rename(staging, folder)
        for late in set(_parts(aside)) - {aside / path.name for path in parts}:
            os.rename(late, folder / late.name)  # written after the day was read: kept
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(aside, ignore_errors=True)
    return True


def _days(folder: Path) -> dict[date, Path]:
    """The log's day folders that hold a file, by day, in order."""
    if not folder.is_dir():
        return {}
    days = {}
    for path in folder.glob(f"{DAY}*"):
        try:
            day = date.fromisoformat(path.name.removeprefix(DAY))
        except ValueError:
            continue  # not the log's: left alone
        if _parts(path):
            days[day] = path
    return dict(sorted(days.items()))


def _parts(folder: Path) -> list[Path]:
    """A day's files, without the temporary ones still being written."""
    return sorted(path for path in folder.glob("*.parquet") if not path.name.startswith("."))


def _read_folders(folders: Sequence[Path]) -> pd.DataFrame:
    tables = [_read_part(path) for folder in folders for path in _parts(folder)]
    if not tables:
        return pd.DataFrame(
            {REQUEST_ID: [], ROW: [], TARGET: [], TIME: pd.to_datetime([], utc=True)})
    table = _concat(tables)
    del tables  # so that the conversion frees each column's Arrow memory as it goes
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _read_part(path: Path) -> pa.Table:
    try:
        # column by column: buffering the whole file's pages first (pre_buffer, for object
        # stores) costs a local file ~0.2 GB more peak memory on a million rows
        return pq.read_table(path, pre_buffer=False)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"prediction log: '{path}' cannot be read ({first_line(error)}); the "
                        "file was damaged after it was written: move it out of the log.") from None


def _concat(tables: Sequence[pa.Table]) -> pa.Table:
    """The tables as one. Files written by different processes may type a column differently
    (integers in one, floats in another where a value was missing; text against numbers):
    numbers become the widest number, anything else mixed becomes text."""
    types: dict[str, set[pa.DataType]] = {}
    for table in tables:
        for column in table.schema:
            if not pa.types.is_null(column.type):
                types.setdefault(column.name, set()).add(column.type)
    wanted = {name: _common_type(found) for name, found in types.items() if len(found) > 1}
    unified = []
    for table in tables:
        table = table.replace_schema_metadata(None)
        for name, kind in wanted.items():
            if name in table.column_names and table.schema.field(name).type != kind:
                index = table.column_names.index(name)
                table = table.set_column(index, name, _cast(table.column(name), kind))
        unified.append(table)
    return pa.concat_tables(unified, promote_options="default")


def _common_type(found: set[pa.DataType]) -> pa.DataType:
    if all(pa.types.is_integer(kind) for kind in found):
        return pa.int64()
    if all(pa.types.is_integer(kind) or pa.types.is_floating(kind) for kind in found):
        return pa.float64()
    if all(pa.types.is_timestamp(kind) for kind in found):
        return pa.timestamp("ns", tz="UTC")
    return pa.string()


def _cast(values: pa.ChunkedArray, kind: pa.DataType) -> pa.Array:
    if kind != pa.string():
        return values.cast(kind)
    text = [None if value is None else str(value) for value in values.to_pylist()]
    return pa.array(text, type=pa.string())


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _shown(moment: datetime | None, otherwise: str) -> str:
    return otherwise if moment is None else moment.isoformat()
