"""Paired tests of two models scored on the same folds and the same test rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats


@dataclass(frozen=True)
class PairedResult:
    """A difference (first minus second), its interval and two-sided p-value."""

    test: str
    difference: float
    low: float
    high: float
    p_value: float
    detail: str = ""


def corrected_resampled_t_test(first: npt.ArrayLike, second: npt.ArrayLike, test_to_train: float,
                               confidence: float = 0.95) -> PairedResult:
    """Nadeau and Bengio's corrected resampled t-test on per-fold scores of the same folds.

    The folds' training sets overlap, so the plain paired t-test's variance ``s²/J`` is too
    small; the correction uses ``(1/J + n_test/n_train) s²``.
    """
    differences = np.asarray(first, float) - np.asarray(second, float)
    folds = len(differences)
    mean = float(differences.mean())
    variance = (1 / folds + test_to_train) * differences.var(ddof=1)
    if variance == 0:
        p_value = 1.0 if mean == 0 else 0.0
        return PairedResult("corrected resampled t", mean, mean, mean, p_value,
                            f"{folds} folds, every fold differs by the same amount")
    scale = float(np.sqrt(variance))
    statistic = mean / scale
    p_value = float(2 * stats.t.sf(abs(statistic), df=folds - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df=folds - 1)) * scale
    return PairedResult("corrected resampled t", mean, mean - half, mean + half, p_value,
                        f"{folds} folds, t = {statistic:.2f}, df = {folds - 1}")


def mcnemar_test(first_correct: np.ndarray, second_correct: np.ndarray) -> PairedResult:
    """McNemar's exact test on the rows where exactly one of two classifiers is right."""
    first_only = int(np.sum(first_correct & ~second_correct))
    second_only = int(np.sum(~first_correct & second_correct))
    discordant = first_only + second_only
    p_value = 1.0 if discordant == 0 else float(
        stats.binomtest(first_only, discordant, 0.5).pvalue)
    rows = len(first_correct)
    difference = (first_only - second_only) / rows
    return PairedResult("McNemar (exact)", difference, np.nan, np.nan, p_value,
                        f"only the first right on {first_only} rows, only the second on "
                        f"{second_only}")


def paired_bootstrap(first: np.ndarray, second: np.ndarray, observed: float,
                     confidence: float = 0.95) -> PairedResult:
    """The interval and p-value of the ``observed`` difference from both models' values on the
    same resamples of the test rows."""
    differences = np.asarray(first, float) - np.asarray(second, float)
    differences = differences[np.isfinite(differences)]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(differences, [alpha, 1 - alpha])
    share_below = (np.sum(differences <= 0) + 1) / (len(differences) + 1)
    share_above = (np.sum(differences >= 0) + 1) / (len(differences) + 1)
    p_value = float(min(1.0, 2 * min(share_below, share_above)))
    return PairedResult("paired bootstrap", observed, float(low),
                        float(high), p_value, f"{len(differences)} resamples")
