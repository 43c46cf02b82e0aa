"""How far an export's outputs are from the model's: one measure for every export."""

from __future__ import annotations

import numpy as np


def largest_difference(exported: np.ndarray, expected: np.ndarray) -> float:
    """The largest absolute difference, relative where the expected value is above 1 in size.

    Probabilities are compared absolutely; a regressor's predictions in its target's units
    (house prices, disease progression) relatively, since float32 keeps about seven digits.
    """
    expected = np.asarray(expected, dtype=np.float64)
    if not expected.size:
        return 0.0
    exported = np.asarray(exported, dtype=np.float64).reshape(expected.shape)
    return float(np.max(np.abs(exported - expected) / np.maximum(1.0, np.abs(expected))))
