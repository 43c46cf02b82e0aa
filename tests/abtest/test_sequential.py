"""The mixture SPRT: its formula against the definition, its error rate under peeking, the
coverage of its confidence sequence, its power; small versions of tests/bench/bench_abtest.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from engine.abtest.sequential import (
    always_valid_p_values,
    log_likelihood_ratio,
    sequential_test,
)
from engine.abtest.simulation import fixed_horizon_rows, simulate

ALPHA = 0.05


def test_the_closed_form_is_the_mixture_of_likelihood_ratios() -> None:
    difference, variance, tau = 0.03, 0.0004, 0.02
    mixed, _ = integrate.quad(
        lambda theta: stats.norm.pdf(difference, theta, math.sqrt(variance))
        / stats.norm.pdf(difference, 0, math.sqrt(variance)) * stats.norm.pdf(theta, 0, tau),
        -1, 1, points=[0, difference])
    found = log_likelihood_ratio(np.array([difference]), np.array([variance]), tau**2)
    assert found[0] == pytest.approx(math.log(mixed), rel=1e-6)


def test_the_p_value_is_the_running_minimum_of_one_over_the_ratio_capped_at_one() -> None:
    found = always_valid_p_values(np.log(np.array([0.5, 4.0, 2.0, 10.0])))
    assert found.tolist() == pytest.approx([1.0, 0.25, 0.25, 0.1])


def test_a_and_a_under_peeking_keeps_the_error_rate() -> None:
    """200 A/A experiments looked at after each of 40 batches: ever significant at most alpha
    plus three binomial standard errors (a fixed-horizon z-test peeked at 40 times: ~25 %)."""
    runs = simulate(runs=200, looks=40, batch_rows=400, control=0.8, challenger=0.8, seed=3)
    assert runs.significant.mean() <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / 200)


def test_the_confidence_sequence_covers_the_true_difference_at_every_look() -> None:
    runs = simulate(runs=200, looks=40, batch_rows=400, control=0.70, challenger=0.74,
                    share=0.2, seed=4)
    assert runs.covered.mean() >= 1 - ALPHA - 3 * math.sqrt(ALPHA * (1 - ALPHA) / 200)


def test_a_real_effect_is_detected_before_twice_the_fixed_horizon() -> None:
    fixed = fixed_horizon_rows(0.75, 0.80)
    assert fixed == 1094  # the two-proportion formula, 80 % power at 0.05
    looks = 20
    runs = simulate(runs=200, looks=looks, batch_rows=math.ceil(4 * fixed / looks),
                    control=0.75, challenger=0.80, seed=5)
    assert runs.significant.mean() >= 0.75
    assert np.median(runs.stopped_at) < runs.horizon


def test_a_stream_looked_at_after_every_row_keeps_the_error_rate() -> None:
    """Revenue-like skewed values on a 90/10 split, 100 A/A streams of 4,000 rows."""
    rng = np.random.default_rng(6)
    significant = [
        sequential_test(rng.lognormal(0, 1, 4000), rng.random(4000) < 0.1,
                        alpha=ALPHA).p_value < ALPHA for _ in range(100)]
    assert np.mean(significant) <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / 100)


def test_a_stream_gives_means_difference_and_an_interval_around_it() -> None:
    rng = np.random.default_rng(7)
    challenger = rng.random(20_000) < 0.5
    values = (rng.random(20_000) < np.where(challenger, 0.85, 0.80)).astype(float)
    found = sequential_test(values, challenger, alpha=ALPHA)
    assert found.rows_control + found.rows_challenger == 20_000
    assert found.difference == pytest.approx(found.mean_challenger - found.mean_control)
    assert found.low < 0.05 < found.high and found.low > 0
    assert found.p_value < ALPHA


def test_no_look_counts_before_each_variant_has_a_hundred_rows() -> None:
    values = np.ones(150)
    values[::2] = 0.0
    found = sequential_test(values, np.arange(150) % 2 == 0, alpha=ALPHA)
    assert (found.looks, found.p_value, found.low, found.high) == (0, 1.0, -math.inf, math.inf)
