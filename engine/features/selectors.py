"""Picking a DataFrame's columns by kind, robust to pandas 3's ``str`` dtype for text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from pandas.api import types

from engine.config.schema.features import KINDS


def column_kind(series: pd.Series) -> str:
    """``numeric``, ``categorical`` (text, category, bool, object) or ``datetime``."""
    if types.is_bool_dtype(series.dtype):
        return "categorical"
    if types.is_numeric_dtype(series.dtype):
        return "numeric"
    if types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    return "categorical"


@dataclass(frozen=True)
class ColumnSelector:
    """A picklable column selector for ColumnTransformer.

    ``kind`` is one of KINDS or any pandas dtype name (``float32``); ``names`` picks columns by
    name instead; ``exclude`` removes columns from either.
    """

    kind: str | None = None
    names: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def __call__(self, frame: pd.DataFrame) -> list[str]:
        if self.names:
            chosen: Sequence[str] = self.names
        elif self.kind in KINDS:
            chosen = [c for c in frame.columns if column_kind(frame[c]) == self.kind]
        else:
            # pandas-stubs lists only literal dtype names; kind is any pandas dtype name
            chosen = frame.select_dtypes(include=[self.kind]).columns.tolist()  # type: ignore[list-item]
        return [c for c in chosen if c not in self.exclude]
