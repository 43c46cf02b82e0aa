"""Timing guards judged side by side: the ratio of the change's time to the base's, from pairs
of samples taken back to back, with a paired t-test on the log ratios, its interval, and Holm's
correction over every timing guard of the suite.

A timing guard regresses when the estimated slowdown (ratio - 1, times the base's median) is
beyond its tolerance (the larger of ``absolute`` and ``relative`` x the base's median, as for a
baseline) and, where significance is required, Holm's adjusted p-value is below alpha.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from engine.regress.guards import Check
from engine.regress.suite import Guard


@dataclass(frozen=True)
class RatioEstimate:
    """The geometric-mean ratio change / base, its interval and the two-sided p-value."""

    ratio: float
    low: float
    high: float
    p_value: float


def ratio_estimate(base: list[float], change: list[float], confidence: float) -> RatioEstimate:
    """``exp`` of the mean log ratio and of its t interval; p-value of a t-test of the logs (a
    ratio of 1 is no change).

    The pairs alternate which side runs first, and whichever runs second is measurably slower
    (about 30 % for a 5 ms prediction on a busy 2-core machine): so each two consecutive pairs
    make one sample, the mean of their log ratios, in which that order effect cancels. Needs
    four pairs or more (two samples).
    """
    each = np.log(np.asarray(change)) - np.log(np.asarray(base))
    blocks = len(each) // 2
    logs = each[:2 * blocks].reshape(blocks, 2).mean(axis=1)
    result = stats.ttest_1samp(logs, 0.0)
    if np.ptp(logs) == 0:  # identical ratios: the t statistic is undefined, the ratio is exact
        ratio = float(np.exp(logs[0]))
        return RatioEstimate(ratio, ratio, ratio, 1.0 if logs[0] == 0 else 0.0)
    interval = result.confidence_interval(confidence)
    return RatioEstimate(float(np.exp(np.mean(logs))), float(np.exp(interval.low)),
                         float(np.exp(interval.high)), float(result.pvalue))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (each at most 1, and never below an earlier one's)."""
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return [float(value) for value in adjusted]


@dataclass(frozen=True)
class TimingPair:
    """One timing guard of one experiment, with its paired samples."""

    experiment: str
    guard: Guard
    base: list[float]
    change: list[float]


def judge_timings(pairs: list[TimingPair], alpha: float) -> list[Check]:
    """A check per pair, in order; p-values Holm-adjusted over all of them."""
    estimates = [ratio_estimate(pair.base, pair.change, 1 - alpha) for pair in pairs]
    adjusted = holm([estimate.p_value for estimate in estimates]) if pairs else []
    return [_check(pair, estimate, p_value, alpha)
            for pair, estimate, p_value in zip(pairs, estimates, adjusted, strict=True)]


def _check(pair: TimingPair, estimate: RatioEstimate, p_value: float, alpha: float) -> Check:
    base, change = float(np.median(pair.base)), float(np.median(pair.change))
    allowed = pair.guard.allowed(base)
    worse = (estimate.ratio - 1) * base
    common: dict[str, Any] = {
        "experiment": pair.experiment, "metric": pair.guard.key, "baseline": base, "now": change,
        "allowed": allowed, "p_value": p_value, "ratio": estimate.ratio,
        "ratio_low": estimate.low, "ratio_high": estimate.high}
    if abs(worse) <= allowed:
        return Check(**common, verdict="ok")
    if pair.guard.significance and p_value >= alpha:
        return Check(**common, verdict="not significant")
    return Check(**common, verdict="regressed" if worse > 0 else "improved")
