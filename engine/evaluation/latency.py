"""Two models' prediction latency on the same rows, timed alternately in one process.

Timing A then B then A ... (each after a warm-up call) spreads the machine's drift (other
processes, CPU frequency, caches) over both models alike, so their ratio is fairer than two
separate runs' figures.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import pandas as pd

from engine.deploy.batch_predict import predict_rows
from engine.deploy.bundle import Bundle
from engine.errors import ConfigError


@dataclass(frozen=True)
class Latency:
    """Median milliseconds per call of each model's prediction path on the same rows."""

    first_ms: float
    second_ms: float
    ratio: float
    """second / first: above 1, the second model is slower."""
    calls: int
    """Timed calls of each model."""


def interleaved_latency(first: Bundle, second: Bundle, rows: pd.DataFrame, *,
                        repeats: int = 7, warm_up: bool = True) -> Latency:
    """Time ``predict_rows`` (schema check, transform, predict) of both bundles on ``rows``,
    ABAB ..., ``repeats`` calls each, after one warm-up call each unless the caller has just
    predicted with both (``warm_up=False``)."""
    if repeats < 1:
        raise ConfigError(f"latency: repeats must be at least 1; got {repeats}.")
    bundles = (first, second)
    for bundle in bundles if warm_up else ():
        predict_rows(bundle, rows)
    seconds: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for bundle, times in zip(bundles, seconds, strict=True):
            start = time.perf_counter()
            predict_rows(bundle, rows)
            times.append(time.perf_counter() - start)
    first_ms, second_ms = (1000 * statistics.median(times) for times in seconds)
    return Latency(first_ms=first_ms, second_ms=second_ms, ratio=second_ms / first_ms,
                   calls=repeats)
