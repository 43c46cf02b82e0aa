"""An always-valid sequential test of the difference of two variants' means: the mixture SPRT.

Method (Johari, Pekelis & Walsh, "Always valid inference", 2017/2022, the normal mixture with
the variance estimated from the data). After ``n_a`` control and ``n_b`` challenger units with
means ``m_a`` and ``m_b``, the difference ``d = m_b - m_a`` is taken as normal with variance
``s2 = var_a / n_a + var_b / n_b``. Against the null ``difference = theta``, the likelihood
ratio mixed over a normal prior ``N(theta, tau2)`` on the difference is

    L = sqrt(s2 / (s2 + tau2)) * exp(tau2 * (d - theta)**2 / (2 * s2 * (s2 + tau2)))

a martingale under the null, so by Ville's inequality it ever reaches ``1 / alpha`` with a
probability of at most ``alpha``, however often it is looked at. The always-valid p-value is
the running minimum of ``1 / L`` (capped at 1); the always-valid confidence sequence is the
running intersection of the ``theta`` with ``L(theta) < 1 / alpha``, each a closed interval
around ``d``.

Assumptions: the units (rows, or the hashed key that assigns them) are independent, and each
variant's mean is roughly normal (a hundred units per variant or more; no check counts earlier,
see ``MIN_ROWS``), which holds for a Bernoulli outcome (a correct prediction, a conversion) as
for a continuous one (revenue) of finite variance. The variance is the data's (plug-in), so
the guarantee is asymptotic; the A/A simulations in ``tests/bench/bench_abtest.py`` measure it.

``tau`` is the prior's spread on the difference: the test is most powerful near effects of
that size. Give it as the minimum effect worth detecting (absolute, in the metric's unit), or
leave it to ``EFFECT_SD`` pooled standard deviations (0.02 on a 0.8 accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

EFFECT_SD = 0.05
"""The default ``tau``: this share of the outcome's pooled standard deviation."""
MIN_ROWS = 100
"""Units each variant needs before a look counts (the normal approximation's burn-in)."""


def log_likelihood_ratio(difference: Floats, variance: Floats, tau2: Floats | float,
                         null: float = 0.0) -> Floats:
    """The log of the mixture likelihood ratio at each look (arrays broadcast)."""
    total = variance + tau2
    return 0.5 * np.log(variance / total) + \
        tau2 * (difference - null) ** 2 / (2 * variance * total)


def always_valid_p_values(log_ratio: Floats) -> Floats:
    """The running minimum of ``1 / L`` along the last axis (the looks), capped at 1."""
    return np.minimum.accumulate(np.minimum(1.0, np.exp(-log_ratio)), axis=-1)


def half_width(variance: Floats, tau2: Floats | float, alpha: float) -> Floats:
    """Half the width of each look's interval: the differences ``theta`` within it of ``d``
    are those with ``L(theta) < 1 / alpha``."""
    total = variance + tau2
    return np.sqrt(variance * total / tau2 * (2 * np.log(1 / alpha) + np.log(total / variance)))


def confidence_sequence(difference: Floats, half: Floats) -> tuple[Floats, Floats]:
    """The running intersection along the last axis of the looks' intervals (``difference``
    plus or minus ``half``; an infinite ``half`` for a look that does not count yet): the
    lower and the upper bounds at each look."""
    low = np.maximum.accumulate(difference - half, axis=-1)
    high = np.minimum.accumulate(difference + half, axis=-1)
    return low, high


def mixture_variance(variance_a: Floats, variance_b: Floats, tau: float | None) -> Floats:
    """``tau2``: ``tau`` squared, or ``EFFECT_SD`` of the pooled standard deviation, squared."""
    if tau is not None:
        return np.full_like(variance_a, tau**2)
    return EFFECT_SD**2 * (variance_a + variance_b) / 2


@dataclass(frozen=True)
class SequentialResult:
    """The test after the last look: means, difference (challenger minus control), its
    always-valid interval and p-value, the looks that counted and ``tau`` at the last one."""

    rows_control: int
    rows_challenger: int
    mean_control: float
    mean_challenger: float
    difference: float
    low: float
    high: float
    p_value: float
    looks: int
    tau: float


def sequential_test(values: Floats, challenger: npt.NDArray[np.bool_], *, alpha: float,
                tau: float | None = None, min_rows: int = MIN_ROWS) -> SequentialResult:
    """The test looked at after every unit of a stream in arrival order: ``values`` the
    outcomes, ``challenger`` True for the challenger's units (False: the control's). Before
    each variant has ``min_rows`` units (and some spread) the p-value stays 1 and the interval
    unbounded."""
    counts, means, variances = _running_moments(values, challenger)
    n_a, n_b = counts
    rows_a, rows_b = int(n_a[-1]) if n_a.size else 0, int(n_b[-1]) if n_b.size else 0
    mean_a = float(means[0][-1]) if rows_a else float("nan")
    mean_b = float(means[1][-1]) if rows_b else float("nan")
    looks = (n_a >= min_rows) & (n_b >= min_rows)
    looks &= (variances[0] + variances[1]) > 0
    if not looks.any():
        return SequentialResult(rows_a, rows_b, mean_a, mean_b, mean_b - mean_a,
                                float("-inf"), float("inf"), 1.0, 0,
                                float("nan") if tau is None else tau)
    var_a, var_b = variances[0][looks], variances[1][looks]
    tau2 = mixture_variance(var_a, var_b, tau)
    variance = var_a / n_a[looks] + var_b / n_b[looks]
    difference = means[1][looks] - means[0][looks]
    p_values = always_valid_p_values(log_likelihood_ratio(difference, variance, tau2))
    low, high = confidence_sequence(difference, half_width(variance, tau2, alpha))
    return SequentialResult(rows_a, rows_b, mean_a, mean_b, mean_b - mean_a, float(low[-1]),
                            float(high[-1]), float(p_values[-1]), int(looks.sum()),
                            float(np.sqrt(tau2[-1])))


def _running_moments(values: Floats, challenger: npt.NDArray[np.bool_]) -> tuple[
        tuple[Floats, Floats], tuple[Floats, Floats], tuple[Floats, Floats]]:
    """Each variant's count, mean and unbiased variance after each unit of the stream."""
    counts, means, variances = [], [], []
    for mask in (~challenger, challenger):
        taken = np.where(mask, values, 0.0)
        count = np.cumsum(mask, dtype=np.float64)
        total, squares = np.cumsum(taken), np.cumsum(taken * taken)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
            variance = np.maximum(squares - count * mean**2, 0.0) / (count - 1)
        counts.append(count)
        means.append(mean)
        variances.append(np.nan_to_num(variance))
    return (counts[0], counts[1]), (means[0], means[1]), (variances[0], variances[1])
