"""Timing guards side by side: the ratio from ABBA pairs, its interval, Holm's correction."""

from __future__ import annotations

import numpy as np
import pytest

from engine.regress.paired_timing import TimingPair, holm, judge_timings, ratio_estimate
from engine.regress.suite import Guard

GUARD = Guard("predict_ms", relative=0.2, absolute=0.1)


def abba(base: float, change: float, count: int, *, second: float = 1.3,
         seed: int = 0) -> tuple[list[float], list[float]]:
    """``count`` pairs on a noisy machine, the base first in even pairs: whichever side runs
    second takes ``second`` times as long (the order effect measured on this machine)."""
    noise = np.random.default_rng(seed).lognormal(0.0, 0.15, size=(count, 2))
    load = np.random.default_rng(seed + 1).uniform(1.0, 4.0, size=count)  # shared by a pair
    first, later = [], []
    for index in range(count):
        base_second, change_second = (1.0, second) if index % 2 == 0 else (second, 1.0)
        first.append(base * load[index] * noise[index, 0] * base_second)
        later.append(change * load[index] * noise[index, 1] * change_second)
    return first, later


def test_the_order_effect_cancels_and_the_interval_holds_the_ratio() -> None:
    base, change = abba(5.0, 6.5, 50)
    estimate = ratio_estimate(base, change, 0.95)
    assert estimate.low < 1.3 < estimate.high
    assert 1.2 < estimate.ratio < 1.4 and estimate.p_value < 1e-6
    same = ratio_estimate(*abba(5.0, 5.0, 50, seed=3), 0.95)
    assert same.low < 1.0 < same.high and same.p_value > 0.05


def test_a_machine_four_times_busier_on_both_sides_changes_nothing() -> None:
    checks = judge_timings([TimingPair(f"exp{seed}", GUARD, *abba(5.0, 5.0, 50, seed=seed))
                            for seed in range(20)], alpha=0.05)
    assert [check.verdict for check in checks] == ["ok"] * 20


def test_a_30_percent_slowdown_regresses_and_a_speedup_improves() -> None:
    slower, faster = judge_timings([TimingPair("slow", GUARD, *abba(5.0, 6.5, 50)),
                                    TimingPair("fast", GUARD, *abba(5.0, 3.0, 50))], alpha=0.05)
    assert slower.verdict == "regressed" and slower.ratio is not None
    assert slower.ratio_low is not None and slower.ratio_low > 1.2
    assert faster.verdict == "improved"


def test_a_slowdown_within_tolerance_is_ok_and_an_unsure_one_not_significant() -> None:
    within = judge_timings([TimingPair("a", GUARD, *abba(5.0, 5.5, 50))], alpha=0.05)
    assert within[0].verdict == "ok"  # 10 % slower; the tolerance is 20 %
    few = abba(5.0, 6.5, 6, second=1.0)
    noisy = [value * factor for value, factor in zip(few[1], [3, 3, 0.4, 0.4, 3, 3],
                                                     strict=True)]
    [unsure] = judge_timings([TimingPair("b", GUARD, few[0], noisy)], alpha=0.05)
    assert unsure.verdict == "not significant"
    assert unsure.p_value is not None and unsure.p_value > 0.05


def test_holm_multiplies_the_smallest_by_the_count_and_keeps_the_order() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_holm_turns_one_lucky_guard_among_many_into_a_pass() -> None:
    lucky = ratio_estimate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.3, 1.3, 1.5, 1.5, 1.35, 1.35],
                           0.95)
    assert lucky.p_value < 0.05
    pairs = [TimingPair("lucky", GUARD, [1.0] * 6, [1.3, 1.3, 1.5, 1.5, 1.35, 1.35])]
    pairs += [TimingPair(f"e{n}", GUARD, *abba(5.0, 5.0, 6, seed=n)) for n in range(40)]
    assert judge_timings(pairs, alpha=0.05)[0].verdict == "not significant"
