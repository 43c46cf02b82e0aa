"""Metrics per slice of the test rows: each value (or quantile bin) of a declared column.

Every scorer is computed on each slice with the run's own vectorised kernels, and the primary
scorer gets a bootstrap interval within the slice, so a small slice shows how little it says.
Slices come worst first.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import get_scorer

from engine.config.schema.metrics import BootstrapConfig
from engine.data.validation import unknown_column_message
from engine.errors import ConfigError
from engine.evaluation.bootstrap import holdout_intervals, metric_value
from engine.evaluation.responses import Responses

MAX_VALUES = 20
"""A column with more values than this is cut into quantile bins (numbers) or keeps its most
frequent values and pools the rest as ``(other)``."""


def check_columns(key: str, names: Sequence[str], columns: Sequence[str]) -> None:
    """Refuse a declared column the data does not have, with did-you-mean."""
    for name in names:
        if name not in columns:
            raise ConfigError(unknown_column_message(key, name, columns))


def slice_labels(values: pd.Series, bins: int) -> pd.Series:
    """Each row's slice: its value, its quantile bin for a many-valued number, ``(missing)``."""
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > MAX_VALUES:
        labels = pd.qcut(values, q=bins, duplicates="drop").astype(str)
    else:
        labels = values.astype(str)
        frequent = labels.value_counts().index[:MAX_VALUES]
        labels = labels.where(labels.isin(frequent), "(other)")
    return labels.where(values.notna(), "(missing)")


def slice_metrics(frame: pd.DataFrame, columns: Sequence[str], y: np.ndarray,
                  responses: Responses, scorers: Sequence[str], primary: str, *, bins: int,
                  bootstrap: BootstrapConfig, seed: int) -> list[dict[str, Any]]:
    """One record per (column, slice): rows, share, every scorer and the primary's interval."""
    for name in scorers:  # each prediction method once, before the rows are split
        responses.get(get_scorer(name)._response_method)
    records = []
    for column in columns:
        labels = slice_labels(frame[column].reset_index(drop=True), bins)
        for label in labels.unique():
            rows = np.flatnonzero((labels == label).to_numpy())
            part = responses.subset(rows)
            with warnings.catch_warnings():  # undefined on a slice (one class): NaN, recorded
                warnings.simplefilter("ignore", UndefinedMetricWarning)
                scores = {name: _score(name, y[rows], part) for name in scorers}
                interval = _interval(primary, y[rows], part, bootstrap, seed)
            records.append({"column": column, "slice": str(label), "rows": len(rows),
                            "share": len(rows) / len(y), "scores": scores,
                            "interval": interval})
    return sorted(records, key=lambda r: (np.nan_to_num(r["scores"][primary], nan=-np.inf),
                                          -r["rows"]))


def _interval(primary: str, y: np.ndarray, responses: Responses,
              bootstrap: BootstrapConfig, seed: int) -> dict[str, float] | None:
    if not bootstrap.resamples or len(y) < 2:
        return None
    try:
        return holdout_intervals(responses, y, [primary], bootstrap, seed=seed)[primary]
    except ValueError:
        return None


def _score(name: str, y: np.ndarray, responses: Responses) -> float:
    """The scorer on these rows; NaN where it is undefined (one class only, say)."""
    try:
        return metric_value(name, y, responses)
    except ValueError:
        return float("nan")
