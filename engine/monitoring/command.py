"""``python -m engine monitor <run | name@alias> [DATA] [--since ISO] [--until ISO]
[--chunk 1d|6h|5000rows] [--labels FILE --key COL] [-o OUT_DIR] [key=value ...]``.

Reads what earlier stages wrote (the bundle's reference profile, the prediction log, the
registry's lineage), judges the rows chunk by chunk (:mod:`engine.monitoring.monitor`), prints a
summary, posts it to the webhook, and writes ``monitor.json`` and ``monitor.html`` only at the
end, each atomically. Exit status: 0 nothing crossed, 1 a threshold crossed (with
``alerts.fail``), 2 a mistake in the input (one line, nothing written).
"""

from __future__ import annotations

import datetime
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError, DataError, did_you_mean
from engine.tracking.summary import make_console

if TYPE_CHECKING:
    import pandas as pd

    from engine.config.schema.monitor import MonitorConfig
    from engine.deploy.bundle import Bundle
    from engine.tracking.records import ReferenceProfile

OVERRIDE = re.compile(r"^[A-Za-z_][\w.]*=")
"""``drift.drift_share=0.3``: a key=value override, not a data file (a path has a '/' or no '=')."""


def monitor(args: Sequence[str]) -> None:
    """Run the command; exits 1 when a threshold was crossed and ``alerts.fail`` is on."""
    from engine.arguments import OneLineErrors

    parser = OneLineErrors(
        prog="engine monitor",
        description="Judge new rows against a model's reference profile, chunk by chunk: data "
                    "drift per column, prediction drift, data quality, target drift and "
                    "performance (measured with labels, estimated without for classifiers). "
                    "Writes monitor.json and monitor.html; exit 1 when a threshold is crossed.",
    )
    parser.add_argument("model", help="a run directory, or a registered model as NAME@ALIAS or "
                                      "NAME/VERSION (e.g. churn@champion)")
    parser.add_argument("rest", nargs="*", metavar="[DATA] [KEY=VALUE ...]",
                        help="a .csv or .parquet file of rows to judge (default: the model's "
                             "prediction log), then overrides of the monitor settings, e.g. "
                             "drift.drift_share=0.3 performance.tolerance=0.02")
    parser.add_argument("--since", help="log rows at or after this time (ISO 8601; UTC unless "
                                        "it says otherwise)")
    parser.add_argument("--until", help="log rows before this time (ISO 8601)")
    parser.add_argument("--chunk", help="chunk size: days (1d), hours (6h) or rows (5000rows); "
                                        "default the settings' chunk")
    parser.add_argument("--labels", type=Path, help="a .csv or .parquet file of true labels to "
                                                    "join to the rows by --key")
    parser.add_argument("--key", help="the column --labels and the rows share (_request_id, or "
                                      "an input column such as an id)")
    parser.add_argument("-o", "--output", type=Path,
                        help="folder for monitor.json and monitor.html (default "
                             "RUN/monitoring/<time>)")
    parser.add_argument("--registry", type=Path, help="the registry database (default: "
                        "$ENGINE_REGISTRY, else outputs/registry.db)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="load a bundle an older engine pickled (pipeline.joblib); only for "
                             "a bundle you trust")
    options = parser.parse_intermixed_args(args)  # overrides may follow the options
    data, overrides = _split_rest(options.rest)
    if options.key and options.labels is None:
        parser.error("argument --key: give --labels FILE with it")
    since, until = _instant(options.since, "--since"), _instant(options.until, "--until")
    if since is not None and until is not None and since >= until:
        raise ConfigError(f"--since {options.since} is not before --until {options.until}; give "
                          "a window that starts before it ends.")
    if options.chunk is not None:
        from engine.monitoring.monitor import parse_chunk

        parse_chunk(options.chunk)
        overrides.append(f"chunk={options.chunk.strip()}")
    exit_status = run_monitor(Request(
        model=options.model, data=data, since=since, until=until, labels=options.labels,
        key=options.key, output=options.output, registry=options.registry,
        trust_pickle=options.trust_pickle, overrides=overrides))
    if exit_status:
        sys.exit(exit_status)


@dataclass(frozen=True)
class Request:
    """What the command line asked for."""

    model: str
    data: Path | None = None
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    labels: Path | None = None
    key: str | None = None
    output: Path | None = None
    registry: Path | None = None
    trust_pickle: bool = False
    overrides: list[str] = field(default_factory=list)


def run_monitor(request: Request) -> int:
    """Judge, report, alert; the exit status (0 or 1). A user's mistake raises an EngineError
    before anything is written."""
    from engine.deploy.registry import resolve_model
    from engine.monitoring.alerts import check_webhook, post_webhook
    from engine.monitoring.monitor import (
        alerts,
        chunks,
        judge_chunk,
        schema_warnings,
    )
    from engine.monitoring.profile import load_reference
    from engine.monitoring.report import render_report
    from engine.monitoring.summary import MONITOR_FILE, REPORT_FILE, MonitorRecord
    from engine.tracking.files import write_text
    from engine.tracking.records import write_record

    console = make_console()
    bundle, lineage = resolve_model(request.model, request.registry,
                                    trust_pickle=request.trust_pickle)
    reference = load_reference(bundle)
    profile = reference.profile
    settings = monitor_settings(profile.monitor, request.overrides)
    if settings.alerts.webhook:
        check_webhook(settings.alerts.webhook)
    run_dir = Path(lineage["run_dir"])
    metrics = _metrics(settings, profile, bundle)
    rows = Rows.load(request, bundle, settings, run_dir)
    columns = _columns(settings, profile, rows)
    metadata = bundle.metadata
    judged = [judge_chunk(label, start, end, part, profile=profile, sample=reference.sample,
                          settings=settings, columns=columns, task=metadata.task,
                          classes=metadata.classes, metrics=metrics, seed=profile.seed,
                          schema_warnings=schema_warnings(bundle, part, rows.hidden(settings)))
              for label, start, end, part in chunks(rows.frame, settings.chunk)]
    raised = [alert.model_copy(update={
        "fails": settings.alerts.fail and alert.kind in settings.alerts.fail_on})
        for chunk in judged for alert in alerts(chunk)]
    failed = any(alert.fails for alert in raised)
    now = datetime.datetime.now(datetime.UTC)
    record = MonitorRecord(
        model=metadata.model, task=metadata.task, run_dir=str(run_dir),
        registered=lineage.get("registered"), source=str(rows.source),
        since=request.since.isoformat() if request.since else None,
        until=request.until.isoformat() if request.until else None,
        chunking=rows.chunking(settings.chunk), rows=len(rows.frame),
        labelled=int(sum(chunk.labelled for chunk in judged)),
        settings=settings.model_dump(mode="json"), chunks=judged, alerts=raised,
        failed=failed, notes=rows.notes, created=now.isoformat(timespec="seconds"))
    if settings.alerts.webhook:
        outcome = post_webhook(settings.alerts.webhook, record.model_dump(mode="json"))
        record = record.model_copy(update={"webhook": outcome})
    output = request.output or _default_output(run_dir, now)
    html = render_report(record, profile, rows.frame)
    write_record(output / MONITOR_FILE, record)
    write_text(output / REPORT_FILE, html)
    from engine.monitoring.console import print_monitor

    print_monitor(console, record, output)
    return 1 if failed else 0


def monitor_settings(base: dict[str, Any], overrides: Sequence[str]) -> MonitorConfig:
    """The run's ``monitor`` section with ``key=value`` overrides, validated (did-you-mean)."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from engine.config.schema import parse_section
    from engine.config.schema.monitor import MonitorConfig

    try:
        merged = OmegaConf.merge(OmegaConf.create(dict(base)),
                                 OmegaConf.from_dotlist(list(overrides)))
        values = OmegaConf.to_container(merged, resolve=True)
    except OmegaConfBaseException as error:
        raise ConfigError(f"monitor overrides {' '.join(overrides)}: "
                          f"{str(error).splitlines()[0]}; write them as key=value, e.g. "
                          "drift.drift_share=0.3.") from None
    section = {str(key): value for key, value in values.items()} if isinstance(values, dict) \
        else {}
    return parse_section(MonitorConfig, section, "monitor.")


@dataclass
class Rows:
    """The rows to judge (inputs, ``_prediction``, ``_probability:<class>``, ``_target`` where
    known, ``_time`` where known), where they came from, and what was noticed reading them."""

    frame: pd.DataFrame
    source: Path
    notes: list[str]
    timed: bool

    @classmethod
    def load(cls, request: Request, bundle: Bundle, settings: MonitorConfig,
             run_dir: Path) -> Rows:
        if request.data is not None:
            rows = _from_file(request, bundle)
        else:
            rows = _from_log(request, bundle, settings, run_dir)
        if request.labels is not None:
            rows.frame = _joined(rows.frame, request, bundle)
        return rows

    def hidden(self, settings: MonitorConfig) -> set[str]:
        """The input columns the log excluded or hashed (none for a data file)."""
        return set(settings.log.hash) | set(settings.log.exclude) if self.source.is_dir() \
            else set()

    def chunking(self, chunk: str) -> str:
        from engine.monitoring.monitor import parse_chunk

        size, unit = parse_chunk(chunk)
        if unit == "rows":
            return f"{size} rows"
        if not self.timed:
            return "all rows (the rows carry no time to chunk them by)"
        return f"{size} {'day' if unit == 'd' else 'hour'}{'s' if size > 1 else ''}"


def _from_file(request: Request, bundle: Bundle) -> Rows:
    import pandas as pd

    from engine.deploy.batch_predict import check_rows, predict_features, read_rows
    from engine.monitoring.columns import PREDICTION, TARGET, TIME, probability_column

    assert request.data is not None
    rows = read_rows(request.data, bundle.metadata.reading)
    if rows.empty:
        raise DataError(f"monitor: '{request.data}' holds no rows to judge.")
    if TIME in rows.columns:
        rows = rows.assign(**{TIME: _utc(rows[TIME], request.data)})
    elif request.since is not None or request.until is not None:
        raise ConfigError(f"--since/--until: '{request.data}' has no {TIME} column to select a "
                          "window by; drop --since/--until, or add the column (UTC times).")
    rows = _window(rows, request, str(request.data))
    reserved = [str(column) for column in rows.columns if str(column).startswith("_")]
    features, warnings = check_rows(bundle, rows, keep=reserved)
    predicted = predict_features(bundle, features)
    renamed = {"prediction": PREDICTION,
               **{f"proba_{label}": probability_column(label)
                  for label in bundle.metadata.classes}}
    frame = pd.concat([rows.reset_index(drop=True),
                       predicted.rename(columns=renamed).reset_index(drop=True)], axis=1)
    target = bundle.metadata.target
    if target in frame.columns and TARGET not in frame.columns:
        frame[TARGET] = frame[target]
    notes = [f"schema: {warning}" for warning in warnings]
    return Rows(frame, request.data, notes, timed=TIME in frame.columns)


def _from_log(request: Request, bundle: Bundle, settings: MonitorConfig,
              run_dir: Path) -> Rows:
    from engine.monitoring.columns import TIME
    from engine.monitoring.prediction_log import read_log

    root = Path(settings.log.path) if settings.log.path else run_dir / "prediction_log"
    expected = [column["name"] for column in bundle.schema["columns"]]
    frame = read_log(root, since=request.since, until=request.until,
                     columns=[name for name in expected if name not in settings.log.exclude])
    if frame.empty:
        raise DataError(f"monitor: the prediction log {root} holds no rows"
                        + _window_text(request) + "; widen the window, or send the model "
                        "traffic first.")
    absent = [name for name in expected
              if name not in frame.columns and name not in settings.log.exclude]
    if absent:
        raise DataError(f"monitor: the prediction log {root} lacks {len(absent)} input "
                        f"column(s) the model takes: {', '.join(absent[:10])}; was it written "
                        "by another model? Point monitor.log.path at this model's log.")
    return Rows(frame, root, [], timed=TIME in frame.columns)


def _joined(frame: pd.DataFrame, request: Request, bundle: Bundle) -> pd.DataFrame:
    from engine.deploy.batch_predict import read_rows
    from engine.monitoring.columns import REQUEST_ID
    from engine.monitoring.prediction_log import join_labels

    assert request.labels is not None
    key = request.key or REQUEST_ID
    labels = read_rows(request.labels, bundle.metadata.reading)
    if key not in labels.columns:
        raise DataError(f"--labels: '{request.labels}' has no column '{key}' to join by."
                        f"{did_you_mean(key, map(str, labels.columns))} Its columns: "
                        f"{', '.join(map(str, labels.columns))}.")
    if key not in frame.columns:
        raise DataError(f"--key: the rows have no column '{key}'."
                        f"{did_you_mean(key, map(str, frame.columns))}")
    return join_labels(frame, labels, key=key, target=bundle.metadata.target)


def _window(rows: pd.DataFrame, request: Request, source: str) -> pd.DataFrame:
    from engine.monitoring.columns import TIME

    if TIME not in rows.columns:
        return rows
    kept = rows
    if request.since is not None:
        kept = kept[kept[TIME] >= request.since]
    if request.until is not None:
        kept = kept[kept[TIME] < request.until]
    if kept.empty:
        raise DataError(f"monitor: no row of {source} falls" + _window_text(request)
                        + f" (its rows run from {rows[TIME].min()} to {rows[TIME].max()}); "
                        "widen the window.")
    return kept


def _window_text(request: Request) -> str:
    parts = []
    if request.since is not None:
        parts.append(f"since {request.since.isoformat()}")
    if request.until is not None:
        parts.append(f"until {request.until.isoformat()}")
    return (" " + " and ".join(parts)) if parts else ""


def _utc(values: pd.Series, path: Path) -> pd.Series:
    import pandas as pd

    from engine.monitoring.columns import TIME

    try:
        return pd.to_datetime(values, utc=True)
    except (ValueError, TypeError) as error:
        raise DataError(f"monitor: '{path}' column {TIME}: not times ({error}); write ISO 8601 "
                        "times such as 2026-12-01T10:00:00Z.") from None


def _instant(text: str | None, flag: str) -> datetime.datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{flag}: {text!r} is not an ISO 8601 time; write e.g. 2026-12-01 or "
                          "2026-12-01T06:00:00Z.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _split_rest(rest: Sequence[str]) -> tuple[Path | None, list[str]]:
    overrides = [item for item in rest if OVERRIDE.match(item)]
    files = [item for item in rest if not OVERRIDE.match(item)]
    if len(files) > 1:
        raise ConfigError(f"monitor: one data file at most, got {len(files)}: "
                          f"{', '.join(files)}; overrides are written key=value.")
    return (Path(files[0]) if files else None), overrides


def _metrics(settings: MonitorConfig, profile: ReferenceProfile, bundle: Bundle) -> list[str]:
    """The scorers to measure: the settings' list, else every one the run scored."""
    from sklearn.metrics import get_scorer_names

    names = list(settings.performance.metrics or profile.scores or bundle.metadata.metrics.test)
    known = set(get_scorer_names())
    for name in names:
        if name not in known:
            raise ConfigError(f"monitor.performance.metrics: '{name}' is not a scikit-learn "
                              f"scorer.{did_you_mean(name, known)}")
    return names


def _columns(settings: MonitorConfig, profile: ReferenceProfile, rows: Rows) -> list[str]:
    """The input columns to judge: the settings' list, else every profiled one the rows hold
    (a column logged hashed or excluded is left out)."""
    named = settings.drift.columns
    if named is not None:
        for column in named:
            if column not in profile.columns:
                raise ConfigError(f"monitor.drift.columns: '{column}' is not an input column of "
                                  f"the model.{did_you_mean(column, profile.columns)}")
    hidden = rows.hidden(settings)
    return [column for column in (named or list(profile.columns))
            if column in rows.frame.columns and column not in hidden]


def _default_output(run_dir: Path, now: datetime.datetime) -> Path:
    stamp = now.strftime("%Y-%m-%d_%H-%M-%S")
    output = run_dir / "monitoring" / stamp
    count = 1
    while output.exists():
        count += 1
        output = run_dir / "monitoring" / f"{stamp}-{count}"
    return output
