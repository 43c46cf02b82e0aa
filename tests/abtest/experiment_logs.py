"""Online experiments written as a server with several variants logs them: the rows of each
request with its variant, latency and prediction, and the feedback (labels, outcomes)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from engine.monitoring.columns import (
    LATENCY_MS,
    MODEL,
    OUTCOME,
    PREDICTION,
    REQUEST_ID,
    ROW,
    SHADOW_PREFIX,
    TARGET,
    TIME,
    VARIANT,
    VERSION,
)

START = pd.Timestamp("2026-12-01 08:00", tz="UTC")


def experiment_frame(requests: int, *, accuracy: Mapping[str, float],
                     split: Mapping[str, float], latency_ms: Mapping[str, float] | None = None,
                     shadow: str | None = None, rows_per_request: int = 2,
                     outcome: Mapping[str, float] | None = None, seed: int = 0) -> pd.DataFrame:
    """The log's rows as ``read_log`` gives them: each request goes to a live variant drawn by
    ``split`` (shares), each row is predicted right with the variant's ``accuracy`` (label
    0 or 1), its outcome is a conversion of probability ``outcome[variant]``; a ``shadow``
    predicts every live row too (right half the time)."""
    rng = np.random.default_rng(seed)
    names = list(split)
    chosen = rng.choice(len(names), size=requests, p=[split[name] for name in names])
    variant = np.repeat(np.array(names)[chosen], rows_per_request)
    rows = len(variant)
    label = rng.integers(0, 2, rows)
    right = rng.random(rows) < np.vectorize(accuracy.get)(variant)
    latency = rng.exponential(1.0, requests) * np.array(
        [(latency_ms or {}).get(name, 10.0) for name in names])[chosen]
    frame = pd.DataFrame({
        REQUEST_ID: np.repeat([f"r{index:06d}" for index in range(requests)], rows_per_request),
        ROW: np.tile(np.arange(rows_per_request), requests),
        TIME: np.repeat(START + pd.to_timedelta(np.arange(requests), unit="s"),
                        rows_per_request),
        MODEL: "churn", VERSION: np.repeat(chosen + 1, rows_per_request).astype(str),
        PREDICTION: np.where(right, label, 1 - label),
        VARIANT: variant, LATENCY_MS: np.repeat(latency, rows_per_request), TARGET: label})
    if outcome is not None:
        frame[OUTCOME] = (rng.random(rows) < np.vectorize(outcome.get)(variant)).astype(float)
    if shadow is None:
        return frame
    shadowed = frame.assign(**{VARIANT: f"{SHADOW_PREFIX}{shadow}", VERSION: "9",
                               PREDICTION: np.where(rng.random(rows) < 0.5, label, 1 - label)})
    return pd.concat([frame, shadowed], ignore_index=True).sort_values(
        [TIME, VARIANT], kind="stable", ignore_index=True)


def write_log(root: Path, frame: pd.DataFrame) -> Path:
    """``frame`` as a prediction log under ``root``: its predictions in one day's file, its
    labels as feedback for each row."""
    predictions = root / "predictions" / "day=2026-12-01"
    predictions.mkdir(parents=True)
    frame.drop(columns=[TARGET]).to_parquet(predictions / "part-1-a.parquet", index=False)
    live = frame[~frame[VARIANT].str.startswith(SHADOW_PREFIX)] if VARIANT in frame else frame
    feedback = root / "feedback" / "day=2026-12-01"
    feedback.mkdir(parents=True)
    pd.DataFrame({REQUEST_ID: live[REQUEST_ID], ROW: live[ROW].astype("Int64"),
                  TARGET: live[TARGET], TIME: live[TIME] + pd.Timedelta(minutes=5)}).to_parquet(
        feedback / "part-1-b.parquet", index=False)
    return root


def exit_status(args: list[str]) -> int:
    """``abtest``'s exit status for ``args`` (0 when it returns)."""
    from engine.abtest.command import abtest

    try:
        abtest(args)
    except SystemExit as stopped:
        return int(stopped.code or 0)
    return 0
