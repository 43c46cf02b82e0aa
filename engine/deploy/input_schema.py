"""The input schema a model was trained on, and checking new rows against it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from pandas.api import types

from engine.data.casting import to_bool
from engine.errors import SchemaError
from engine.features.selectors import column_kind

MAX_LISTED_CATEGORIES = 1000
SHOWN_CATEGORIES = 5  # in a message: the first few, then how many more
EXAMPLE_ROWS = 3


def infer_schema(X: pd.DataFrame, *, text_columns: Sequence[str] = ()) -> dict[str, Any]:
    """Column names, dtypes, kinds, missing-value tolerance and the categories seen in training,
    and the first few rows as ``examples`` (JSON values; the bundle's sample request and input).

    ``text_columns`` (those a feature block takes as 1-D text) are of kind ``text``: free text,
    with no list of categories to hold new rows to.
    """
    columns = []
    for name in X.columns:
        series = X[name]
        kind = "text" if name in text_columns else column_kind(series)
        categories = None
        if kind == "categorical":
            seen = pd.unique(series.dropna())
            if len(seen) <= MAX_LISTED_CATEGORIES:
                categories = sorted((_native(v) for v in seen), key=str)
        columns.append(
            {
                "name": str(name),
                "dtype": str(series.dtype),
                "kind": kind,
                "nullable": bool(series.isna().any()),
                "categories": categories,
            }
        )
    examples = json.loads(X.head(EXAMPLE_ROWS).to_json(orient="records", date_format="iso"))
    return {"columns": columns, "examples": examples}


def conform(
    frame: pd.DataFrame, schema: Mapping[str, Any], *, passed_through: Sequence[str] = (),
    refuse_unseen: bool = False,
) -> tuple[pd.DataFrame, list[str]]:
    """Rows shaped as the model was trained on, plus warnings about what was tolerated.

    Missing columns and values of the wrong type raise a SchemaError naming the column; extra
    columns (other than ``passed_through``: the target, kept ids) are dropped with a warning,
    and unseen categories are reported (refused with ``refuse_unseen``: ``--strict``).
    A text column takes any text; a value that is not a string is read as one, and a missing
    one as empty text unless training had missing text (which the model's steps then fill).
    """
    expected = [column["name"] for column in schema["columns"]]
    missing = [name for name in expected if name not in frame.columns]
    if missing:
        raise SchemaError(
            f"input is missing {len(missing)} column(s) the model needs: {', '.join(missing)}. "
            f"Expected columns: {', '.join(expected)}."
        )
    warnings = []
    extra = [str(c) for c in frame.columns if c not in expected and c not in passed_through]
    if extra:
        names = ", ".join(extra)
        warnings.append(f"ignored {len(extra)} column(s) the model does not use: {names}")
    conformed = {}
    for column in schema["columns"]:
        values, warning = _conform_column(frame[column["name"]], column)
        conformed[column["name"]] = values
        if warning and refuse_unseen and column["kind"] == "categorical":
            raise SchemaError(f"input (--strict): {warning}. Send one of the categories seen in "
                              f"training: {shown_values(column['categories'])}.")
        if warning:
            warnings.append(warning)
    return pd.DataFrame(conformed, index=frame.index), warnings


def _conform_column(series: pd.Series, column: Mapping[str, Any]) -> tuple[pd.Series, str | None]:
    name, kind, dtype = column["name"], column["kind"], column["dtype"]
    if kind == "numeric":
        if series.dtype == "float64":  # what JSON and CSV numbers parse to: nothing to check
            return series, None
        numeric = types.is_numeric_dtype(series) and not types.is_bool_dtype(series)
        numbers = series if numeric else pd.to_numeric(series, errors="coerce")
        bad = numbers.isna() & series.notna()
        if not numeric and bad.any():
            examples = ", ".join(repr(v) for v in series[bad].astype(str).unique()[:3])
            raise SchemaError(
                f"column '{name}': expected numbers ({dtype}), found {examples} in "
                f"{int(bad.sum())} row(s), first at row {int(bad.to_numpy().argmax())}. "
                "Fix those values or leave them empty for missing."
            )
        if numbers.isna().any() or types.is_float_dtype(dtype):
            return numbers.astype("float64"), None
        return numbers.astype(dtype), None
    if kind == "text":
        missing = None if column["nullable"] else ""
        text = series.map(lambda v: missing if pd.isna(v) else str(v)).astype(object)
        return text.astype(dtype) if dtype != "object" else text, None
    if kind == "datetime":
        return _conform_dates(series, name, dtype), None
    return _conform_categories(series, column)


def _conform_dates(series: pd.Series, name: str, dtype: str) -> pd.Series:
    """ISO dates and datetimes, mixed forms and offsets included, as the training dtype: in UTC
    when it had a timezone, else naive."""
    try:
        dates = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    except (TypeError, ValueError):  # a value pandas cannot even coerce, such as a dict
        dates = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns, UTC]")
    bad = dates.isna() & series.notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in series[bad].astype(str).unique()[:3])
        raise SchemaError(
            f"column '{name}': expected ISO dates ({dtype}), e.g. 2024-03-01 or "
            f"2024-03-01T12:30:00, found {examples} in {int(bad.sum())} row(s), first at row "
            f"{int(bad.to_numpy().argmax())}. Fix those values or leave them empty for missing."
        )
    return dates if "UTC" in dtype else dates.dt.tz_localize(None)


def _conform_categories(
    series: pd.Series, column: Mapping[str, Any]
) -> tuple[pd.Series, str | None]:
    known = column["categories"]
    if known is None:
        return series, None
    by_text = {str(v): v for v in known}
    distinct = [value for value in pd.unique(series)
                if not (types.is_scalar(value) and pd.isna(value))]
    as_known = {value: by_text.get(str(value), value) for value in distinct}
    unseen = sorted({str(value) for value in as_known} - set(by_text))
    # Each distinct value is looked up once, and the column mapped (missing stays missing)
    # unless it is text, as CSV and JSON give it, whose values all read as trained: mapping
    # 200 rows took a third of a 200-row prediction, and gives back the same column.
    retyped = any(type(value) is not type(seen) for value, seen in as_known.items())
    mapped = series if series.dtype == "str" and not retyped else series.map(as_known)
    if column["dtype"] == "category":
        mapped = pd.Series(pd.Categorical(mapped.where(mapped.isin(known)), categories=known),
                           index=series.index)  # an unseen category is missing
    elif column["dtype"] == "bool":
        try:
            mapped = to_bool(series)
        except ValueError as error:
            raise SchemaError(f"column '{column['name']}': {error}.") from None
    else:
        mapped = mapped.astype(column["dtype"]) if column["dtype"] != "object" else mapped
    warning = None
    if unseen:
        count = int(series.dropna().astype(str).isin(unseen).sum())
        warning = (
            f"column '{column['name']}': {count} row(s) have categories unseen in training "
            f"({shown_values(unseen)}); the model sees them as unknown or missing"
        )
    return mapped, warning


def shown_values(values: Sequence[Any], limit: int = SHOWN_CATEGORIES) -> str:
    """The first ``limit`` values, then how many more: ``'a', 'b', 'c' ... and 877 more``."""
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" ... and {len(values) - limit} more" if len(values) > limit else "")


def _native(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
