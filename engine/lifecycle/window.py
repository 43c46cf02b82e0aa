"""The rows a step works on: those new since the last step, the training window, and the
gate's rows (the newest labelled rows of the window, which the challenger never trains on)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

    from engine.config.schema.lifecycle import GateConfig, WindowConfig

MIN_TRAINING_ROWS = 20
"""Fewer labelled rows left to train on than this is a window too small to retrain on."""


@dataclass(frozen=True)
class Marker:
    """How far a finished step read: the rows it had seen, and the newest time among them."""

    rows: int
    time: str | None

    @classmethod
    def of(cls, frame: pd.DataFrame, time_column: str | None) -> Marker:
        newest = frame[time_column].max() if time_column and len(frame) else None
        return cls(len(frame), None if newest is None else newest.isoformat())


def new_rows(frame: pd.DataFrame, time_column: str | None, marker: Marker | None) -> pd.Series:
    """Which rows are new since ``marker``: later than its time, else past its row count (a
    source that grows by appending); every row before the first step."""
    import pandas as pd

    if marker is None:
        return pd.Series(True, index=frame.index)
    if time_column is not None and marker.time is not None:
        return frame[time_column] > pd.Timestamp(marker.time)
    return pd.Series(frame.index >= marker.rows, index=frame.index)


def training_window(frame: pd.DataFrame, window: WindowConfig,
                    time_column: str | None) -> pd.DataFrame:
    """The window's rows, oldest first."""
    import pandas as pd

    kind = window.kind
    if kind == "all":
        return frame
    if kind in ("last_rows", "sliding") and window.rows is not None:
        return frame.tail(window.rows)
    if time_column is None:
        raise ConfigError(f"lifecycle.window.kind={kind} selects rows by time, but the rows "
                          "carry no time column; set lifecycle.window.time_column (or the "
                          "source's time_column), or use window.kind=last_rows.")
    times = frame[time_column]
    if kind == "growing":
        if window.start is None:
            return frame
        try:
            start = pd.Timestamp(window.start)
        except ValueError:
            raise ConfigError(f"lifecycle.window.start: {window.start!r} is not an ISO 8601 "
                              "time; write e.g. 2026-01-01.") from None
        start = start.tz_localize("UTC") if start.tzinfo is None else start
        return frame[times >= start]
    assert window.days is not None  # the schema asks for days of a time-wide window
    return frame[times >= times.max() - pd.Timedelta(days=window.days)]


def window_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the window's values, column names and dtypes: the same rows, the same print."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr([(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class GateSplit:
    """The labelled rows of the window: those the challenger trains on, and the gate's."""

    training: pd.DataFrame
    gate: pd.DataFrame


def split_gate(labelled: pd.DataFrame, gate: GateConfig) -> GateSplit:
    """The newest labelled rows are the gate's: ``holdout_rows`` of them, or the newest share."""
    held = gate.holdout_rows if gate.holdout_rows is not None else \
        math.ceil(len(labelled) * (gate.fraction or 0.0))
    held = min(held, len(labelled))
    return GateSplit(labelled.iloc[: len(labelled) - held], labelled.iloc[len(labelled) - held:])


def check_training_rows(split: GateSplit, window: WindowConfig, gate: GateConfig) -> None:
    """A window that leaves too few labelled rows to train on is a mistake in the settings."""
    if len(split.training) < MIN_TRAINING_ROWS:
        size = f"window.rows={window.rows}" if window.rows else f"window.kind={window.kind}"
        held = f"gate.holdout_rows={gate.holdout_rows}" if gate.holdout_rows \
            else f"gate.holdout_fraction={gate.fraction}"
        raise DataError(
            f"lifecycle.window: too few labelled rows: the window holds "
            f"{len(split.training) + len(split.gate)}, the gate holds out {len(split.gate)} "
            f"({held}), leaving {len(split.training)} to train the challenger on (at least "
            f"{MIN_TRAINING_ROWS}); widen the window ({size}) or hold out fewer rows.")


def time_range(frame: pd.DataFrame, time_column: str | None) -> dict[str, Any]:
    """The first and last time of ``frame`` (None without a time column)."""
    if time_column is None or frame.empty:
        return {"first": None, "last": None}
    return {"first": frame[time_column].min().isoformat(),
            "last": frame[time_column].max().isoformat()}
