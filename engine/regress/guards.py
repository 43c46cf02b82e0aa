"""Each score guard of each experiment against the baseline (a recorded one, or the base
side of ``--against``): the change, whether it is beyond the tolerance, whether it is
significant, and the verdict.

Significance pairs what it can: CV means by the corrected resampled t-test on the same folds,
held-out scores by a paired bootstrap of the same test rows. A change that cannot be tested (the
data or split changed) counts as significant. Timing guards are judged side by side only
(``paired_timing.py``): against a recorded baseline they are left out, since another day's
machine and load say nothing about this change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.evaluation.paired_tests import corrected_resampled_t_test
from engine.evaluation.run_comparison import (
    bootstrap_difference,
    fold_size_ratio,
    stored_responses,
)
from engine.regress.measurement import Measurement
from engine.regress.suite import Guard, SuiteExperiment

FAILING = ("regressed", "failed")
LEFT_OUT = ("a timing is judged only side by side (--against REF), never against "
            "another run's machine and load")
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class Check:
    """One guard's outcome: ok, regressed, improved, not significant, new, failed or left out.

    A timing judged side by side also has ``ratio`` (change / base) and its interval.
    """

    experiment: str
    metric: str
    baseline: float | None
    now: float | None
    allowed: float | None
    p_value: float | None
    verdict: str
    note: str = ""
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.now is None:
            return None
        return self.now - self.baseline


def check_experiment(experiment: SuiteExperiment, now: Measurement,
                     before: Measurement | None, alpha: float) -> list[Check]:
    """The checks of every score guard of ``experiment``; one ``failed`` check if it did not
    run."""
    if now.error is not None:
        return [Check(experiment.name, "run", None, None, None, None, "failed", now.error)]
    checks = []
    for guard in experiment.guards:
        if guard.is_timing:
            continue
        label, value = _label(guard, now), _value(guard, now, now)
        base = _value(guard, now, before) if before is not None else None
        if base is None or before is None:
            checks.append(Check(experiment.name, label, None, value, None, None, "new",
                                "no baseline yet"))
            continue
        if value is None:
            checks.append(Check(experiment.name, label, base, None, None, None, "failed",
                                "the baseline has it and this run no longer reports it"))
            continue
        checks.append(_judge(experiment.name, label, guard, base, value, now, before, alpha))
    return checks


def _judge(name: str, label: str, guard: Guard, base: float, value: float, now: Measurement,
           before: Measurement, alpha: float) -> Check:
    allowed = guard.allowed(base)
    worse = base - value
    if abs(worse) <= allowed:
        return Check(name, label, base, value, allowed, None, "ok")
    p_value, note = _significance(guard, now, before) if guard.significance else (None, "")
    if p_value is not None and p_value >= alpha:
        verdict = "not significant"
    else:
        verdict = "regressed" if worse > 0 else "improved"
    return Check(name, label, base, value, allowed, p_value, verdict, note)


def _scorer(guard: Guard, now: Measurement) -> tuple[str, str]:
    """``(stage, scorer)`` of a score guard, ``primary`` resolved with the current run's."""
    stage, metric = guard.key.split(".", 1)
    return stage, str(now.primary) if metric == "primary" else metric


def left_out_timings(experiment: SuiteExperiment, now: Measurement) -> list[Check]:
    """The timing guards of ``experiment`` against a recorded baseline: left out, with the
    median measured now for the record."""
    if now.error is not None:
        return []
    return [Check(experiment.name, guard.key, None,
                  float(np.median(now.timing[guard.key])) if now.timing.get(guard.key) else None,
                  None, None, "left out", LEFT_OUT)
            for guard in experiment.guards if guard.is_timing]


def _label(guard: Guard, now: Measurement) -> str:
    return " ".join(_scorer(guard, now))


def _value(guard: Guard, now: Measurement, measured: Measurement) -> float | None:
    """The guarded score in ``measured``; ``primary`` is resolved with the current run's."""
    stage, metric = _scorer(guard, now)
    if stage == "cv":
        folds = measured.cv.get(metric)
        return float(np.mean(folds)) if folds else None
    score = measured.test.get(metric)
    return None if score is None else float(score)


def _significance(guard: Guard, now: Measurement, before: Measurement) -> tuple[float | None,
                                                                                str]:
    """The two-sided p-value of the change and an empty note, or None and why it cannot be
    tested."""
    if (now.fingerprint, now.split, now.seed) != (before.fingerprint, before.split, before.seed):
        return None, "untestable: data or split changed"
    stage, metric = _scorer(guard, now)
    if stage == "cv":
        first, second = now.cv[metric], before.cv[metric]
        if len(first) != len(second) or len(first) < 2:
            return None, "untestable: folds differ"
        result = corrected_resampled_t_test(np.asarray(first), np.asarray(second),
                                            fold_size_ratio(now.split))
        return result.p_value, ""
    if now.predictions.get("row") != before.predictions.get("row"):
        return None, "untestable: test rows differ"
    y, current = stored_responses(pd.DataFrame(now.predictions), now.classes)
    _, previous = stored_responses(pd.DataFrame(before.predictions), before.classes)
    try:
        result = bootstrap_difference(metric, y, current, previous,
                                      now.test[metric] - before.test[metric], confidence=0.95,
                                      resamples=BOOTSTRAP_RESAMPLES, seed=now.seed or 0)
    except ValueError:  # a scorer of decision_function values, which predictions.csv lacks
        return None, "untestable: scores not stored"
    return result.p_value, ""
