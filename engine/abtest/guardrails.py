"""The guardrails of an online experiment, read from its log: a sample-ratio mismatch on the
split, each variant's latency p99 and error rate, and the share of rows a shadow predicts
differently from the live answer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.abtest.experiment_log import is_live
from engine.monitoring.columns import LATENCY_MS, PREDICTION, REQUEST_ID, ROW, VARIANT

if TYPE_CHECKING:
    import pandas as pd

SRM_THRESHOLD = 0.001
"""The usual p-value below which the counts per variant are said not to follow the split."""


@dataclass(frozen=True)
class SampleRatio:
    """Units (``unit``: requests or rows) per live variant against the declared split (shares
    summing to 1), by a chi-square goodness-of-fit test."""

    unit: str
    observed: dict[str, int]
    expected: dict[str, float]
    p_value: float
    mismatch: bool


@dataclass(frozen=True)
class ShadowAgreement:
    """A shadow against the live answers on the same rows: the share of live rows it
    answered (coverage) and, of those, the share whose prediction differs."""

    rows: int
    coverage: float
    changed: float


def assignment_units(frame: pd.DataFrame) -> tuple[str, dict[str, int]]:
    """What the split assigned, counted per live variant: requests when each request's live
    rows went to one variant (a request assigned as a whole, or rows of one key), else rows
    (each row assigned by its own key)."""
    live = frame[is_live(frame[VARIANT])]
    whole = bool((live.groupby(REQUEST_ID)[VARIANT].nunique() <= 1).all())
    units = live.drop_duplicates([VARIANT, REQUEST_ID]) if whole else live
    return ("requests" if whole else "rows",
            {str(name): int(count) for name, count in units.groupby(VARIANT).size().items()})


def sample_ratio_mismatch(unit: str, counts: Mapping[str, int], split: Mapping[str, float], *,
                          threshold: float = SRM_THRESHOLD) -> SampleRatio:
    """The test of ``counts`` (``unit`` per variant) against ``split`` (each one's share)."""
    from scipy.stats import chisquare

    names = list(split)
    observed = [counts.get(name, 0) for name in names]
    total = sum(observed)
    expected = [split[name] * total for name in names]
    p_value = float(chisquare(observed, expected).pvalue) if total else 1.0
    return SampleRatio(unit, dict(zip(names, observed, strict=True)),
                       dict(zip(names, expected, strict=True)), p_value, p_value < threshold)


def latency_p99(frame: pd.DataFrame) -> dict[str, float]:
    """Each variant's 99th percentile of server-side latency, one value per request (every
    row of a request carries the request's; a shadow's, its own call's); empty when the log
    has no latency."""
    if LATENCY_MS not in frame:
        return {}
    requests = frame[frame[LATENCY_MS].notna()].drop_duplicates([VARIANT, REQUEST_ID])
    return {str(name): float(value)
            for name, value in requests.groupby(VARIANT)[LATENCY_MS].quantile(0.99).items()}


def requests_per_variant(frame: pd.DataFrame) -> dict[str, int]:
    """How many requests each variant answered."""
    return {str(name): int(count) for name, count in
            frame.drop_duplicates([VARIANT, REQUEST_ID]).groupby(VARIANT).size().items()}


def error_rates(frame: pd.DataFrame) -> dict[str, float]:
    """Each variant's share of logged rows without a prediction (a failed answer)."""
    return {str(name): float(value) for name, value in
            frame[PREDICTION].isna().groupby(frame[VARIANT]).mean().items()}


def shadow_agreement(frame: pd.DataFrame) -> dict[str, ShadowAgreement]:
    """Each shadow against the live answers of the same ``_request_id`` and ``_row``."""
    live_rows = is_live(frame[VARIANT])
    live = frame.loc[live_rows, [REQUEST_ID, ROW, PREDICTION]]
    found = {}
    for name, rows in frame[~live_rows].groupby(VARIANT):
        answered = rows.loc[rows[PREDICTION].notna(), [REQUEST_ID, ROW, PREDICTION]]
        both = live.merge(answered.drop_duplicates([REQUEST_ID, ROW]), on=[REQUEST_ID, ROW],
                          suffixes=("", "_shadow"))
        changed = both[PREDICTION].astype(str) != both[f"{PREDICTION}_shadow"].astype(str)
        found[str(name)] = ShadowAgreement(len(both), len(both) / len(live) if len(live) else 0.0,
                                           float(changed.mean()) if len(both) else 0.0)
    return found
