"""An online experiment judged from its log: per live variant the rows seen and the outcome
metric, each challenger against the control by the always-valid test of
:mod:`engine.abtest.sequential`, the guardrails of :mod:`engine.abtest.guardrails`, and a verdict.

Higher is better for both metrics: ``accuracy`` (the share of labelled rows predicted right)
and ``outcome`` (the mean of the business value fed back: a conversion, revenue). With several
challengers each is tested at ``alpha`` divided by their number (Bonferroni).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from engine.abtest.experiment_log import is_live
from engine.abtest.guardrails import (
    SampleRatio,
    ShadowAgreement,
    assignment_units,
    error_rates,
    latency_p99,
    requests_per_variant,
    sample_ratio_mismatch,
    shadow_agreement,
)
from engine.abtest.sequential import MIN_ROWS, SequentialResult, sequential_test
from engine.errors import ConfigError, DataError, did_you_mean, options_hint
from engine.monitoring.columns import OUTCOME, PREDICTION, TARGET, VARIANT

if TYPE_CHECKING:
    import pandas as pd

Metric = Literal["accuracy", "outcome"]
KEEP_RUNNING, ADOPT, REJECT = "keep running", "stop and adopt", "stop and reject"
CONTROL = "control"
MIN_REQUESTS = 100
"""Requests each variant needs before its latency p99 is judged (fewer: it is their maximum)."""


@dataclass(frozen=True)
class Settings:
    """What to judge and how: the control's name (default ``control``), the declared split in
    percent (the control's share first, then the challengers' in name order; None: no
    sample-ratio check), the guardrails' margins (a challenger's latency p99 at most
    ``latency_increase`` above the control's, its error rate at most ``error_increase``
    above) and the mixture's ``tau`` (None: :data:`engine.abtest.sequential.EFFECT_SD`)."""

    control: str | None = None
    alpha: float = 0.05
    metric: Metric = "accuracy"
    split: tuple[float, ...] | None = None
    tau: float | None = None
    latency_increase: float = 0.2
    error_increase: float = 0.01


@dataclass(frozen=True)
class VariantSummary:
    """One variant: rows answered, rows with an outcome, the metric over those, latency p99
    (ms, live variants) and error rate."""

    name: str
    rows: int
    measured: int
    metric: float | None
    latency_p99: float | None
    error_rate: float


@dataclass(frozen=True)
class Comparison:
    """One challenger against the control: the test, the guardrails it breached, its verdict
    and why."""

    challenger: str
    test: SequentialResult
    breaches: tuple[str, ...]
    verdict: str
    reason: str


@dataclass(frozen=True)
class AbTestResult:
    """The whole analysis; :meth:`to_json` is its machine-readable form."""

    metric: Metric
    alpha: float
    control: str
    variants: tuple[VariantSummary, ...]
    comparisons: tuple[Comparison, ...]
    sample_ratio: SampleRatio | None
    shadows: dict[str, ShadowAgreement] = field(default_factory=dict)
    verdict: str = KEEP_RUNNING
    reason: str = ""
    winner: str | None = None
    """The challenger to adopt (the best proven better), when the verdict is to adopt one."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; an infinite or missing number (an unbounded interval) is null."""
        return _finite(asdict(self))


def parse_split(text: str) -> tuple[float, ...]:
    """``90/10`` as percentages; refused unless each is a positive number and they sum to 100."""
    try:
        shares = tuple(float(part) for part in text.split("/"))
    except ValueError:
        shares = ()
    if len(shares) < 2 or not all(math.isfinite(share) and share > 0 for share in shares):
        raise ConfigError(f"abtest --split '{text}': expected positive percentages separated by "
                          "'/', the control's first, e.g. --split 90/10.")
    if not math.isclose(sum(shares), 100):
        raise ConfigError(f"abtest --split '{text}': the shares sum to {sum(shares):g}, not 100; "
                          "e.g. --split 90/10.")
    return shares


def analyse(frame: pd.DataFrame, settings: Settings) -> AbTestResult:
    """Judge the experiment in ``frame`` (the log, rows in time order)."""
    live = frame[is_live(frame[VARIANT])]
    counts = {str(name): int(count) for name, count in live.groupby(VARIANT).size().items()}
    control = _control(settings.control, counts)
    challengers = sorted(name for name in counts if name != control)
    split = _declared_split(settings.split, control, challengers)
    values, measured = _values(frame, settings.metric)
    observed = _Observed(
        latency_p99(frame), requests_per_variant(frame), error_rates(frame),
        None if split is None else sample_ratio_mismatch(*assignment_units(frame), split))
    shadows = sorted(set(map(str, frame[VARIANT])) - set(counts))
    variants = tuple(_summary(name, frame[VARIANT].to_numpy() == name, values, measured,
                              observed) for name in [control, *challengers, *shadows])
    comparisons = tuple(
        _compare(frame, values, measured, control, name, settings, len(challengers), observed)
        for name in challengers)
    verdict, reason, winner = _overall(comparisons, observed.ratio)
    return AbTestResult(settings.metric, settings.alpha, control, variants, comparisons,
                        observed.ratio, shadow_agreement(frame), verdict, reason, winner)


@dataclass(frozen=True)
class _Observed:
    """What the guardrails read per variant, and the sample-ratio check (None: no split)."""

    latency: dict[str, float]
    requests: dict[str, int]
    errors: dict[str, float]
    ratio: SampleRatio | None


def _summary(name: str, rows: np.ndarray, values: np.ndarray, measured: np.ndarray,
             observed: _Observed) -> VariantSummary:
    return VariantSummary(name, int(rows.sum()), int((measured & rows).sum()),
                          _mean(values[measured & rows]), observed.latency.get(name),
                          observed.errors.get(name, 0.0))


def _control(name: str | None, counts: dict[str, int]) -> str:
    if name is None and CONTROL not in counts:
        raise ConfigError(f"abtest: no live variant is named '{CONTROL}'; name the control with "
                          f"--control. {options_hint(counts)}")
    name = name or CONTROL
    if name not in counts:
        raise ConfigError(f"abtest --control '{name}': no live variant of that name in the log."
                          f"{did_you_mean(name, counts)} {options_hint(counts)}")
    if len(counts) < 2:
        raise DataError(f"abtest: the log holds one live variant ('{name}'), nothing to compare "
                        "it with; serve a challenger beside it (--split 90/10).")
    return name


def _declared_split(split: tuple[float, ...] | None, control: str,
                    challengers: list[str]) -> dict[str, float] | None:
    if split is None:
        return None
    names = [control, *challengers]
    if len(split) != len(names):
        raise ConfigError(f"abtest --split {'/'.join(f'{s:g}' for s in split)}: {len(split)} "
                          f"shares for {len(names)} live variants ({', '.join(names)}); give one "
                          "share per variant, the control's first, then the others in that order.")
    return {name: share / 100 for name, share in zip(names, split, strict=True)}


def _values(frame: pd.DataFrame, metric: Metric) -> tuple[np.ndarray, np.ndarray]:
    """Each row's outcome (1.0 or 0.0 for a right or wrong prediction, or the value fed back)
    and whether it has one (a shadow's rows have a label, not an outcome)."""
    import pandas as pd

    if metric == "outcome":
        if OUTCOME not in frame:
            raise DataError(f"abtest --outcome: the log has no '{OUTCOME}' column: no outcome was "
                            "fed back. POST /feedback with an outcome (a conversion, revenue), "
                            "or judge labels with --metric accuracy.")
        outcome = pd.to_numeric(frame[OUTCOME], errors="coerce")
        # a shadow's answer was never returned, so the outcome it is joined to is not its own
        return (outcome.fillna(0.0).to_numpy(dtype=float),
                (outcome.notna() & is_live(frame[VARIANT])).to_numpy())
    predicted, label = frame[PREDICTION], frame[TARGET]
    if not (pd.api.types.is_numeric_dtype(predicted) and pd.api.types.is_numeric_dtype(label)):
        predicted, label = predicted.astype(str), label.astype(str)
    measured = (frame[TARGET].notna() & frame[PREDICTION].notna()).to_numpy()
    return (predicted == label).to_numpy(dtype=float), measured


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None


def _compare(frame: pd.DataFrame, values: np.ndarray, measured: np.ndarray, control: str,
             challenger: str, settings: Settings, challengers: int,
             observed: _Observed) -> Comparison:
    """The test of ``challenger`` against ``control`` on their measured rows in time order."""
    variant = frame[VARIANT].to_numpy()
    taken = measured & ((variant == control) | (variant == challenger))
    alpha = settings.alpha / challengers
    test = sequential_test(values[taken], variant[taken] == challenger, alpha=alpha,
                           tau=settings.tau)
    breaches = _breaches(control, challenger, settings, observed)
    if breaches:
        return Comparison(challenger, test, breaches, REJECT, "guardrail breached: " +
                          "; ".join(breaches))
    if test.p_value < alpha:
        better = test.difference > 0
        return Comparison(challenger, test, (), ADOPT if better else REJECT,
                          f"{challenger} is {'better' if better else 'worse'} than {control}: "
                          f"p = {test.p_value:.3g} < {alpha:g}")
    if not test.looks:
        return Comparison(challenger, test, (), KEEP_RUNNING,
                          f"the test starts at {MIN_ROWS} rows with an outcome per variant "
                          f"({control} has {test.rows_control}, {challenger} "
                          f"{test.rows_challenger})")
    return Comparison(challenger, test, (), KEEP_RUNNING,
                      f"no difference proven yet: p = {test.p_value:.3g} >= {alpha:g}")


def _breaches(control: str, challenger: str, settings: Settings,
              observed: _Observed) -> tuple[str, ...]:
    ratio, latency, errors = observed.ratio, observed.latency, observed.errors
    requests = observed.requests
    found = []
    if ratio is not None and ratio.mismatch:
        found.append(f"sample ratio mismatch (p = {ratio.p_value:.2g})")
    if min(requests.get(control, 0), requests.get(challenger, 0)) >= MIN_REQUESTS and \
            latency[challenger] > latency[control] * (1 + settings.latency_increase):
        found.append(f"latency p99 {latency[challenger]:.1f} ms > {control}'s "
                     f"{latency[control]:.1f} ms + {settings.latency_increase:.0%}")
    if errors.get(challenger, 0.0) > errors.get(control, 0.0) + settings.error_increase:
        found.append(f"error rate {errors[challenger]:.1%} > {control}'s "
                     f"{errors.get(control, 0.0):.1%} + {settings.error_increase:.0%}")
    return tuple(found)


def _overall(comparisons: tuple[Comparison, ...],
             ratio: SampleRatio | None) -> tuple[str, str, str | None]:
    """Adopt the best challenger proven better (the verdict, why, and that challenger); reject
    when every one is rejected (or the split is broken); else keep running."""
    if ratio is not None and ratio.mismatch:
        return REJECT, (f"the {ratio.unit} per variant do not follow the declared split "
                        f"(sample ratio mismatch, p = {ratio.p_value:.2g}): the assignment is "
                        "broken, so no difference can be trusted"), None
    adopted = [c for c in comparisons if c.verdict == ADOPT]
    if adopted:
        best = max(adopted, key=lambda c: c.test.difference)
        return ADOPT, f"adopt {best.challenger}: {best.reason}", best.challenger
    reasons = "; ".join(f"{c.challenger}: {c.reason}" for c in comparisons)
    if all(c.verdict == REJECT for c in comparisons):
        return REJECT, reasons, None
    return KEEP_RUNNING, reasons, None


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
