"""The promotion gate: the champion and the challenger scored on the same gate rows (a paired
test at the declared alpha and margin), their prediction latency timed interleaved in this
process, the champion run's fairness limits checked on the challenger; promoted only when every
check passes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from engine.config.schema.lifecycle import GateConfig
    from engine.deploy.bundle import Bundle

LATENCY_ROWS = 200
"""Rows per timed call: a batch as a busy endpoint would see it."""
LATENCY_REPEATS = 5
"""Timed calls of each model (after the scoring, which warmed both up)."""


@dataclass(frozen=True)
class GateResult:
    """What the gate measured, and why it passes or not (``reasons`` empty: it passes)."""

    evidence: dict[str, Any]
    reasons: list[str]

    @property
    def passed(self) -> bool:
        return not self.reasons


def judge(champion: Bundle, challenger: Bundle, rows: pd.DataFrame, gate: GateConfig, *,
          metric: str, seed: int) -> GateResult:
    """Score both models on ``rows`` (inputs and target), time them and check fairness.

    The models predict on one thread when the rows are few (:func:`threads_per_process`): on a
    busy 2-core machine HistGradientBoosting's two OpenMP threads made the gate on 2,200 rows
    3 to 10 times slower than one thread (interleaved, 3 rounds: 0.55-2.5 s against 0.67-12 s).
    """
    from engine.threads import limited_threads, threads_per_process

    with limited_threads(threads_per_process(work=rows.size)):
        return _judged(champion, challenger, rows, gate, metric=metric, seed=seed)


def _judged(champion: Bundle, challenger: Bundle, rows: pd.DataFrame, gate: GateConfig, *,
            metric: str, seed: int) -> GateResult:
    from engine.evaluation.fresh_comparison import fairness_failures, score_side_by_side
    from engine.evaluation.latency import interleaved_latency

    target = rows[champion.metadata.target]
    inputs = rows.drop(columns=[champion.metadata.target])
    compared = score_side_by_side(champion, challenger, inputs, target, metric=metric,
                                  alpha=gate.alpha, margin=gate.margin,
                                  resamples=gate.resamples, seed=seed)
    reasons = [] if compared.better else [_not_better(compared.difference, compared.p_value,
                                                      gate.alpha, gate.margin)]
    evidence: dict[str, Any] = {
        "metric": compared.metric, "rows": compared.rows, "champion": compared.first,
        "challenger": compared.second, "difference": compared.difference,
        "interval": list(compared.interval), "p_value": compared.p_value,
        "alpha": gate.alpha, "margin": gate.margin, "better": compared.better,
        "tests": [asdict(test) for test in compared.tests]}
    if gate.latency_ratio is not None:
        timed = interleaved_latency(champion, challenger, inputs.tail(LATENCY_ROWS),
                                    repeats=LATENCY_REPEATS, warm_up=False)
        ok = timed.ratio <= gate.latency_ratio
        evidence["latency"] = {"champion_ms": timed.first_ms, "challenger_ms": timed.second_ms,
                               "ratio": timed.ratio, "budget": gate.latency_ratio,
                               "calls": timed.calls, "ok": ok}
        if not ok:
            reasons.append(f"the challenger is {timed.ratio:.2f}x the champion's latency (budget "
                           f"{gate.latency_ratio:g}x)")
    if gate.fairness:
        failed = fairness_failures(challenger, inputs, target)
        evidence["fairness"] = {"failures": failed, "ok": not failed}
        reasons += [f"fairness: {failure}" for failure in failed]
    return GateResult(evidence, reasons)


def _not_better(difference: float, p_value: float, alpha: float, margin: float) -> str:
    over = f" by more than {margin:g}" if margin else ""
    return (f"the challenger is not better{over} (difference {difference:+.4g}, p = "
            f"{p_value:.3g}, alpha {alpha:g})")
