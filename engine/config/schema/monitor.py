"""``monitor``: what a bundle keeps as its reference, what serving logs, and how ``monitor``
judges new rows against the reference (drift tests, chunks, performance, alerts)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from engine.config.schema.base import Fraction, NonNegative, Positive, Section

NumericTest = Literal["auto", "ks", "wasserstein", "psi", "jensenshannon"]
CategoricalTest = Literal["auto", "chi2", "z", "jensenshannon", "psi"]
Statistic = Literal["ks", "chi2", "z", "wasserstein", "jensenshannon", "psi"]
AlertKind = Literal["dataset_drift", "prediction_drift", "target_drift", "decay",
                    "estimated_decay", "data_quality"]


class ReferenceConfig(Section):
    """The reference profile written into every bundle at training time."""

    sample_rows: NonNegative = 5000
    """Held-out rows kept in the bundle for two-sample tests (0 keeps none)."""
    bins: Annotated[int, Field(ge=2, le=100)] = 10
    """Quantile bins per numeric column."""
    max_categories: Annotated[int, Field(ge=1)] = 50
    """Categories profiled per column; the rest are counted as one "other"."""


class LogConfig(Section):
    """The prediction log: Parquet files partitioned by day."""

    enabled: bool = True
    """serve logs every prediction (serve --no-log turns it off); predict logs with --log."""
    path: str | None = None
    """null: <run directory>/prediction_log."""
    exclude: list[str] = []
    """Input columns never written to the log."""
    hash: list[str] = []
    """Input columns written as a SHA-256 digest, not their value."""
    retention_days: Positive = 90
    """Older days are deleted when the log is compacted."""
    flush_rows: Positive = 1000
    """Rows buffered before a Parquet file is written."""
    flush_seconds: Annotated[float, Field(gt=0)] = 5.0
    """And at most this long."""


DRIFT_THRESHOLDS: dict[Statistic, float] = {
    "ks": 0.01, "chi2": 0.01, "z": 0.01, "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.2}
"""The default thresholds. On adult.csv (tests/bench/bench_drift_detection.py: 100 seeded
batches of 1,000 rows against 1,000 or 5,000 reference rows) they flag a 0.5-standard-deviation
shift and a 10-point share change in every batch, and undrifted column-batches in 0.2 % and
0.6 %. Evidently's defaults on the same batches flag 34 % of undrifted column-batches against
1,000 reference rows (chi-square at p < 0.05 against reference counts, rare categories
included), and miss every 10-point share change against 5,000 (Jensen-Shannon 0.1)."""


class DriftConfig(Section):
    """Data and prediction drift per column, and the dataset's verdict."""

    numeric_test: NumericTest = "auto"
    """auto | ks | wasserstein | psi | jensenshannon. auto: Kolmogorov-Smirnov up to
    large_sample_rows values, normed Wasserstein above; without a reference sample, chi-square
    (or Wasserstein) of the profile's bins."""
    categorical_test: CategoricalTest = "auto"
    """auto | chi2 | z | jensenshannon | psi. auto: chi-square (a two-proportion z-test for a
    binary column) up to large_sample_rows values, Jensen-Shannon distance above."""
    large_sample_rows: Positive = 1000
    """auto: p-value tests up to this many current values, distances above (on large samples
    every p-value is tiny)."""
    thresholds: dict[Statistic, Annotated[float, Field(gt=0)]] = DRIFT_THRESHOLDS
    """Per statistic: p-value tests (ks, chi2, z) drift below theirs, distances (wasserstein,
    jensenshannon, psi) at or above; a statistic left out keeps its default."""
    drift_share: Fraction = 0.5
    """The dataset drifts when this share of its columns does."""
    columns: list[str] | None = None
    """The columns judged; null: every input column."""

    @field_validator("thresholds")
    @classmethod
    def _every_threshold(cls, thresholds: dict[Statistic, float]) -> dict[Statistic, float]:
        """Thresholds left out keep their defaults, so ``{"ks": 0.05}`` changes only KS's."""
        return {**DRIFT_THRESHOLDS, **thresholds}


class PerformanceConfig(Section):
    """Performance on new rows: measured when labels exist, estimated (CBPE) when not."""

    metrics: list[str] | None = None
    """null: every metric the run scored."""
    resamples: NonNegative = 200
    """Bootstrap resamples of each chunk's interval (0: none)."""
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    estimate: bool = True
    """Estimate classifiers' accuracy and ROC AUC without labels (CBPE)."""
    tolerance: Fraction = 0.05
    """Decay: a chunk's score below reference - tolerance * |reference| (relative, so it works
    for negated losses too)."""


class AlertsConfig(Section):
    """What happens when a threshold is crossed."""

    webhook: str | None = None
    """POST the JSON summary (monitor.json) to this http(s) URL."""
    fail: bool = True
    """Exit status 1 when an alert of a kind in fail_on is raised, so cron or CI can act."""
    fail_on: list[AlertKind] = ["dataset_drift", "decay", "estimated_decay"]
    """The alerts that fail; the others are warnings. Add prediction_drift, target_drift or
    data_quality to fail on them too; lower drift.drift_share to fail on fewer drifted
    columns (0.01: any one)."""


class MonitorConfig(Section):
    """The ``monitor`` group."""

    reference: ReferenceConfig = ReferenceConfig()
    log: LogConfig = LogConfig()
    drift: DriftConfig = DriftConfig()
    chunk: Annotated[str, Field(pattern=r"^\d+(d|h|rows)$")] = "1d"
    """1d, 6h (by time, for the log) or 5000rows."""
    performance: PerformanceConfig = PerformanceConfig()
    alerts: AlertsConfig = AlertsConfig()
    window_rows: Positive = 1000
    """The server's /metrics drift gauges judge the last this many rows."""
