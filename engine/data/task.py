"""Which learning task a target calls for, and whether a declared task fits the target."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_float_dtype, is_integer_dtype, is_numeric_dtype

from engine.data.validation import shown
from engine.errors import DataError

TASKS = ("binary", "multiclass", "regression")
MAX_NUMERIC_CLASSES = 20  # a numeric target with more distinct values than this is regression


def infer_task(y: pd.Series) -> str:
    """Guess the task: labels or few whole numbers are classes, anything else is regression.

    >>> infer_task(pd.Series(["yes", "no", "yes"]))
    'binary'
    """
    n_classes = y.nunique(dropna=True)
    holds_labels = is_bool_dtype(y) or not is_numeric_dtype(y)
    if holds_labels or (_holds_whole_numbers(y) and n_classes <= MAX_NUMERIC_CLASSES):
        return "binary" if n_classes == 2 else "multiclass"
    return "regression"


def resolve_task(y: pd.Series, declared: str) -> str:
    """The task for ``y``: inferred when ``declared`` is ``auto``, else checked against ``y``
    (``declared`` is ``auto`` or one of TASKS, as the schema checked)."""
    task = infer_task(y) if declared == "auto" else declared
    column = f"column '{y.name}'"
    if task == "regression" and (is_bool_dtype(y) or not is_numeric_dtype(y)):
        raise DataError(
            f"dataset.task: 'regression' needs a numeric target, but {column} holds {y.dtype} "
            f"values (e.g. {shown(y.iloc[0])}). Use dataset.task=auto, binary or multiclass."
        )
    if task != "regression" and is_float_dtype(y) and not _holds_whole_numbers(y):
        fraction = y[y.notna() & (y != np.round(y))].iloc[0]
        raise DataError(
            f"dataset.task: '{task}' needs class labels, but {column} holds non-integer numbers "
            f"(e.g. {shown(fraction)}). Use dataset.task=regression or auto."
        )
    n_classes = y.nunique(dropna=True)
    if task == "binary" and n_classes != 2:
        raise DataError(
            f"dataset.task: 'binary' needs exactly two classes, but {column} has {n_classes}. "
            "Use dataset.task=multiclass or auto."
        )
    return task


def _holds_whole_numbers(y: pd.Series) -> bool:
    """True for an integer column, or a float column whose values are all whole numbers."""
    if is_integer_dtype(y) and not is_bool_dtype(y):
        return True
    if not is_float_dtype(y):
        return False
    values = y.dropna().to_numpy(dtype=float)
    return bool(np.array_equal(values, np.round(values)))
