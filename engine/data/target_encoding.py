"""Class labels as codes 0..k-1, so every scorer works with text labels such as '>50K'."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ConfigError, did_you_mean


def encode_target(
    y: pd.Series, task: str, positive_class: Any = None
) -> tuple[np.ndarray, list[Any]]:
    """Return the target as the model sees it and the class labels (None for regression).

    Classes are sorted; for a binary task ``positive_class`` (when given) is placed second, so
    it is the class that precision, recall, F1 and ROC AUC score as positive.
    """
    if task == "regression":
        return y.to_numpy(dtype=np.float64), []
    labels = pd.unique(y).tolist()
    try:
        classes = sorted(labels)
    except TypeError:  # labels of mixed types: order them as text
        classes = sorted(labels, key=str)
    if positive_class is not None:
        match = [c for c in classes if str(c) == str(positive_class)]
        if task != "binary" or not match:
            raise ConfigError(
                f"dataset.positive_class: {positive_class!r} is not one of the target's classes "
                f"{classes}.{did_you_mean(str(positive_class), map(str, classes))} "
                "It applies to binary targets only."
            )
        classes.remove(match[0])
        classes.append(match[0])
    codes = {label: code for code, label in enumerate(classes)}
    return y.map(codes).to_numpy(dtype=np.int64), classes
