"""monitor.json, typed: what ``python -m engine monitor`` found in each chunk of new rows, and the
alerts it raised. Read back with ``read_record(path, MonitorRecord)``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from engine.config.schema.monitor import AlertKind
from engine.tracking.records import Part, Record

MONITOR_FILE = "monitor.json"
REPORT_FILE = "monitor.html"


class DriftResult(Part):
    """One column's (or the prediction's, or the target's) drift test in one chunk."""

    column: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None = None
    threshold: float
    drifted: bool


class ColumnQuality(Part):
    """One input column's data quality in one chunk, against the reference profile."""

    column: str
    missing: float
    reference_missing: float
    missing_increase: bool
    out_of_range: int = 0  # numeric values below the training minimum or above its maximum
    unseen: int = 0  # category values never seen in training
    unseen_values: list[str] = Field(default_factory=list)


class Quality(Part):
    """A chunk's data quality: the schema check's warnings, each column's measures, and the
    columns flagged (missing share risen, values out of range, or unseen categories)."""

    warnings: list[str] = Field(default_factory=list)
    columns: list[ColumnQuality] = Field(default_factory=list)
    flagged: list[str] = Field(default_factory=list)


class MetricResultRecord(Part):
    """One scorer on one chunk: its value and interval, the reference's, and the verdict.

    ``threshold`` is the value below which the chunk counts as decayed: the reference less
    ``tolerance`` times its magnitude (scorers are greater-is-better, losses negated)."""

    metric: str
    value: float | None
    low: float | None = None
    high: float | None = None
    reference: float | None = None
    reference_low: float | None = None
    reference_high: float | None = None
    threshold: float | None = None
    decayed: bool = False
    rows: int = 0
    note: str = ""


class EstimateRecord(Part):
    """CBPE's estimates: ``valid`` false with ``reason`` when the chunk cannot be estimated."""

    valid: bool
    reason: str
    metrics: list[MetricResultRecord] = Field(default_factory=list)
    missed: list[str] = Field(default_factory=list)  # measured values outside the estimate's


class ChunkRecord(Part):
    """One chunk of rows: a period of time (``start``..``end``) or a run of rows."""

    label: str
    start: str | None = None
    end: str | None = None
    rows: int
    labelled: int = 0
    drift: list[DriftResult] = Field(default_factory=list)
    drifted_columns: list[str] = Field(default_factory=list)
    drift_share: float = 0.0
    dataset_drift: bool = False
    prediction_drift: list[DriftResult] = Field(default_factory=list)
    target_drift: DriftResult | None = None
    quality: Quality = Quality()
    performance: list[MetricResultRecord] = Field(default_factory=list)
    estimated: EstimateRecord | None = None


class Alert(Part):
    kind: AlertKind
    chunk: str
    message: str
    fails: bool = False  # a kind in alerts.fail_on, with alerts.fail on: exit status 1


class WebhookOutcome(Part):
    url: str
    delivered: bool
    status: int | None = None
    attempts: int
    error: str | None = None


class MonitorRecord(Record):
    """monitor.json."""

    model: str
    task: str
    run_dir: str
    registered: dict[str, Any] | None = None
    source: str  # the data file, or the prediction log's folder
    since: str | None = None
    until: str | None = None
    chunking: str
    rows: int
    labelled: int
    settings: dict[str, Any]
    chunks: list[ChunkRecord]
    alerts: list[Alert] = Field(default_factory=list)
    failed: bool = False  # an alert crossed a threshold and alerts.fail is on: exit status 1
    webhook: WebhookOutcome | None = None
    notes: list[str] = Field(default_factory=list)
    created: str
