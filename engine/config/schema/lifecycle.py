"""``lifecycle``: when a deployed model is retrained (triggers), on which rows (source and
window), what a challenger must prove before it replaces the champion (the gate), and which
aliases move (promote). ``python -m engine retrain`` runs one step; ``lifecycle run`` loops."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.config.schema.base import NonNegativeFloat, Positive, Section
from engine.config.schema.rules import check_name, refuse

TRIGGERS = ("drift", "prediction_drift", "estimated_decay", "decay", "schedule", "new_rows",
            "manual")
"""What may start a retraining: the monitor's alerts (dataset drift, prediction drift,
performance estimated without labels, measured with them), a schedule, new rows, a person."""


class FilesSource(Section):
    """Files matched by a glob, read in name order: a folder that grows by files."""

    type: Literal["files"]
    path: str
    """A glob of .csv or .parquet files, e.g. data/batches/*.csv."""
    time_column: str | None = None
    """The column giving each row's time; null: the model's dataset.time_column, else the
    files' row order."""


class SqlSource(Section):
    """A SQL query with a time column: a table that grows."""

    type: Literal["sql"]
    url: str
    """A SQLAlchemy URL, e.g. sqlite:///data.db."""
    query: str
    time_column: str | None = None
    """The column giving each row's time; null: the model's dataset.time_column, else the
    query's row order (give it an ORDER BY)."""


class LogSource(Section):
    """The champion's prediction log joined with its labels: /feedback, or a labels file."""

    type: Literal["log"]
    path: str | None = None
    """The log's folder; null: the champion's (its monitor.log.path, else <run>/prediction_log)."""
    labels: str | None = None
    """A .csv or .parquet file of labels to join by ``key``; null: the labels /feedback sent."""
    key: str = "_request_id"
    """The column the labels file and the log share (_request_id, or an input column)."""


Source = Annotated[FilesSource | SqlSource | LogSource, Field(discriminator="type")]


class WindowConfig(Section):
    """The rows a challenger trains on (less the gate's)."""

    kind: Literal["all", "last_rows", "last_days", "sliding", "growing"] = "all"
    """all: every row; last_rows: the newest ``rows``; last_days: the newest ``days`` by time;
    sliding: a fixed width (``rows`` or ``days``) that moves with the newest row; growing: every
    row from ``start`` (null: the first) onwards."""
    rows: Positive | None = None
    days: Annotated[float, Field(gt=0)] | None = None
    start: str | None = None
    """growing: the window's first time (ISO 8601)."""
    time_column: str | None = None
    """null: the source's time column, else the model's dataset.time_column, else row order."""

    @model_validator(mode="after")
    def _width(self) -> WindowConfig:
        needs = {"last_rows": ("rows",), "last_days": ("days",), "sliding": ("rows", "days")}
        wanted = needs.get(self.kind)
        if wanted and not any(getattr(self, key) is not None for key in wanted):
            width = wanted[0]
            refuse(f"lifecycle.window.kind={self.kind} needs "
                   f"{' or '.join(f'window.{key}' for key in wanted)}; set it, e.g. "
                   f"lifecycle.window.{width}={5000 if width == 'rows' else 30}.")
        if self.kind == "sliding" and self.rows is not None and self.days is not None:
            refuse("lifecycle.window: a sliding window is rows or days wide, not both; drop "
                   "one of window.rows and window.days.")
        return self


class TriggersConfig(Section):
    """What starts a retraining; any one that fires is enough."""

    when: list[str] = ["manual"]
    """Any of drift, prediction_drift, estimated_decay, decay (the monitor's alerts on the new
    rows, judged against the champion's reference profile), schedule (every_hours), new_rows
    (every_rows) and manual (retrain run by hand; retrain --force fires it whatever the list)."""
    every_hours: Annotated[float, Field(gt=0)] | None = None
    """schedule: hours since the last retraining step (before the first: since the champion
    was registered)."""
    every_rows: Positive | None = None
    """new_rows: new rows since the last finished step."""

    @field_validator("when", mode="before")
    @classmethod
    def _known(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            for name in value:
                check_name("lifecycle.triggers.when", str(name), TRIGGERS, "is not a trigger",
                           f"Triggers: {', '.join(TRIGGERS)}.")
        return value

    @model_validator(mode="after")
    def _settings(self) -> TriggersConfig:
        for trigger, key in (("schedule", "every_hours"), ("new_rows", "every_rows")):
            if trigger in self.when and getattr(self, key) is None:
                refuse(f"lifecycle.triggers.when holds {trigger}, which needs "
                       f"lifecycle.triggers.{key}; set it, e.g. lifecycle.triggers.{key}="
                       f"{24 if key == 'every_hours' else 1000}.")
        return self


class GateConfig(Section):
    """What a challenger must prove on the newest labelled rows before it is promoted."""

    metric: str | None = None
    """A scorer the task can score; null: the champion's primary metric."""
    holdout_rows: Positive | None = None
    """The newest this many labelled rows of the window are the gate's; the challenger never
    trains on them."""
    holdout_fraction: Annotated[float, Field(gt=0, lt=1)] | None = None
    """Or the newest this share of them; neither set: 0.2."""
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
    """The paired test's level: the challenger must be better with p < alpha."""
    margin: NonNegativeFloat = 0.0
    """And better by more than this (in the metric's units)."""
    min_rows: Positive = 200
    """Labelled rows the gate needs, from rows new since the last step; fewer: the step
    waits for labels (exit 0)."""
    latency_ratio: Annotated[float, Field(gt=0)] | None = 2.0
    """The challenger's median prediction latency at most this times the champion's (measured
    interleaved in one process); null: not checked."""
    fairness: bool = True
    """The champion run's metrics.fairness limits must hold for the challenger on the gate rows."""
    resamples: Positive = 2000
    """Paired-bootstrap resamples of the difference."""

    @model_validator(mode="after")
    def _one_holdout(self) -> GateConfig:
        if self.holdout_rows is not None and self.holdout_fraction is not None:
            refuse("lifecycle.gate: holdout_rows and holdout_fraction both set; keep one "
                   "(the newest N labelled rows, or the newest share of them).")
        return self

    @property
    def fraction(self) -> float | None:
        """The share held out, when the gate holds out a share."""
        if self.holdout_rows is not None:
            return None
        return 0.2 if self.holdout_fraction is None else self.holdout_fraction


class PromoteConfig(Section):
    """Which aliases move when a challenger passes the gate."""

    alias: str = "champion"
    """The alias the gate defends; serve NAME@champion follows it."""
    challenger_alias: str = "challenger"
    """Pointed at each newly trained challenger."""
    previous_alias: str | None = "previous"
    """Pointed at the replaced champion, for rollback; null: none kept."""


class LifecycleConfig(Section):
    """The ``lifecycle`` group."""

    model: str | None = None
    """The registered model it keeps fresh, NAME@ALIAS (e.g. churn@champion); in a training
    run's config null: retrain names it."""
    source: Source | None = None
    """Where new rows come from: files (a glob), sql (a query with a time column) or log (the
    prediction log with its labels); null: the model's own dataset, read again."""
    window: WindowConfig = WindowConfig()
    triggers: TriggersConfig = TriggersConfig()
    gate: GateConfig = GateConfig()
    promote: PromoteConfig = PromoteConfig()
    search: bool = False
    """true: tune again with the champion's tune settings; false: the champion's selected
    model and parameters (tune=none)."""
    state_dir: str | None = None
    """Where the loop keeps its state and the challengers' runs; null:
    <outputs>/lifecycle/<name>."""

    @model_validator(mode="after")
    def _window_holds_a_gate(self) -> LifecycleConfig:
        rows, gate = self.window.rows, self.gate
        if self.window.kind in ("last_rows", "sliding") and rows is not None:
            held = gate.holdout_rows if gate.holdout_rows is not None else \
                int(rows * (gate.fraction or 0))
            if held < gate.min_rows or held >= rows:
                refuse(f"lifecycle.window.rows={rows}: a window of {rows} rows can never give "
                       f"the gate {gate.min_rows} labelled rows (gate.min_rows) and leave rows "
                       f"to train on (it holds out {held}); widen window.rows or lower "
                       "gate.min_rows.")
        return self
