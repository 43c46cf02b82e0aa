"""Typing text columns on load: ISO dates become datetimes; numbers with markers are recorded.

A CSV reader types a column as text as soon as one value is not a number, so a numeric column
with ``?`` for missing values, or an ISO date column, arrives as text and would be one-hot
encoded. :func:`type_columns` runs once, right after reading: a text column whose every value
is an ISO date (``2024-03-01``, ``2024-03-01T12:30:00Z``) becomes a datetime column, and a text
column whose values are almost all numbers (or dates) keeps its text but has its odd values
recorded, so the data quality report can name them and the ``na_values`` line that fixes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
from pandas.api.types import is_object_dtype, is_string_dtype

PARSED_SHARE = 0.95  # this share of the present values parsing makes the rest markers
MAX_MARKERS = 10  # more distinct odd values than this are data, not missing-value markers
SCREEN_ROWS = 1000  # a column whose first present values are mostly not numbers or dates is text
ISO_DATE = (r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?)?")
ZONE = r"(?:Z|[+-]\d{2}:?\d{2})$"


@dataclass(frozen=True)
class ColumnTypes:
    """What :func:`type_columns` decided: the columns read as dates, and per column the markers
    (value -> rows) in a column otherwise of numbers or dates, with ``kinds`` saying which.
    ``fix`` is the override that reads the markers as missing values; the loader sets it, as it
    knows the dataset config."""

    dates: tuple[str, ...] = ()
    markers: dict[str, dict[str, int]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    fix: str | None = None

    @property
    def marker_values(self) -> list[str]:
        """Every marker found, in column order, each once."""
        return list(dict.fromkeys(value for found in self.markers.values() for value in found))


def type_columns(frame: pd.DataFrame, *, skip: Iterable[str] = ()) -> tuple[pd.DataFrame,
                                                                             ColumnTypes]:
    """``frame`` with its ISO date text columns as datetimes, and what was found.

    Columns in ``skip`` (the target, dropped columns and those ``dataset.dtypes`` casts: the
    user's decision) are left alone, as are columns already typed (numbers, categories,
    booleans, datetimes).
    """
    skipped = set(skip)
    dates: list[str] = []
    markers: dict[str, dict[str, int]] = {}
    kinds: dict[str, str] = {}
    for column in frame.columns:
        values = frame[column]
        if column in skipped or not _is_text(values):
            continue
        present = values.dropna()
        if present.empty or not _may_parse(present.iloc[:SCREEN_ROWS].astype(str).str.strip()):
            continue
        present = present.astype(str).str.strip()
        as_date = present.str.fullmatch(ISO_DATE)
        if as_date.all():
            parsed = _dates(values, zoned=bool(present.str.contains(ZONE).any()))
            if parsed is not None:
                frame[column] = parsed
                dates.append(str(column))
            continue
        as_number = pd.to_numeric(present, errors="coerce").notna()
        for kind, parses in (("numbers", as_number), ("dates", as_date)):
            odd = present[~parses].value_counts()
            if parses.mean() >= PARSED_SHARE and len(odd) <= MAX_MARKERS:
                markers[str(column)] = {str(value): int(count) for value, count in odd.items()}
                kinds[str(column)] = kind
                break
    return frame, ColumnTypes(dates=tuple(dates), markers=markers, kinds=kinds)


def _may_parse(head: pd.Series) -> bool:
    """Whether at least half of the first values are numbers or ISO dates: a cheap screen that
    spares the full scan of the ordinary text columns of a large file."""
    numbers = pd.to_numeric(head, errors="coerce").notna().mean()
    return bool(max(numbers, head.str.fullmatch(ISO_DATE).mean()) >= 0.5)


def _is_text(values: pd.Series) -> bool:
    """Text (object or pandas' ``str``) columns; categories and booleans are already typed."""
    return is_object_dtype(values) or (is_string_dtype(values)
                                       and not isinstance(values.dtype, pd.CategoricalDtype))


def _dates(values: pd.Series, *, zoned: bool) -> pd.Series | None:
    """ISO text as datetimes (UTC when any value names a zone), or None when a value is not a
    real date (``2024-02-30``)."""
    try:
        return pd.to_datetime(values, format="ISO8601", utc=zoned)
    except (TypeError, ValueError):
        return None
