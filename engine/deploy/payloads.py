"""Request bodies as rows: MLflow's scoring formats (so MLflow clients work unchanged) and the
engine's own ``{"records": [...]}``.

MLflow's ``/invocations`` takes JSON with exactly one of ``dataframe_split`` (``{columns,
data}``), ``dataframe_records`` (a list of row objects), ``instances`` or ``inputs`` (row
objects, a mapping of columns to lists, or rows as lists in the schema's column order), plus
an optional ``params``; or CSV with a header row.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from engine.errors import SchemaError

JSON_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class PayloadError(SchemaError):
    """A request body that is not rows in a known format (answered 400)."""


def rows_from_body(body: bytes, content_type: str, columns: Sequence[str], *,
                   na_values: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows in a request body; ``columns`` order rows sent as plain lists, ``na_values``
    are a CSV body's missing-value markers besides pandas' own (the training file's)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return _rows_from_csv(body, na_values)
    if kind not in ("application/json", ""):
        raise PayloadError(f"Content-Type '{kind}' is not supported; send application/json "
                           "(MLflow's formats) or text/csv.")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PayloadError(f"the body is not valid JSON: {error}.") from None
    return rows_from_mlflow_json(payload, columns)


def rows_from_mlflow_json(payload: Any, columns: Sequence[str]) -> pd.DataFrame:
    if not isinstance(payload, Mapping):
        raise PayloadError(f"expected a JSON object with one of {', '.join(JSON_FORMATS)}; got "
                           f"{type(payload).__name__}.")
    given = [key for key in JSON_FORMATS if key in payload]
    unknown = [key for key in payload if key not in (*JSON_FORMATS, "params")]
    if len(given) != 1 or unknown:
        raise PayloadError(f"expected exactly one of {', '.join(JSON_FORMATS)} (and optionally "
                           f"params); got {', '.join(map(str, payload)) or 'an empty object'}.")
    key = given[0]
    value = payload[key]
    if key == "dataframe_split":
        return _rows_from_split(value)
    if key == "dataframe_records":
        return rows_from_records(value, key)
    if isinstance(value, Mapping):  # instances / inputs as columns
        return _rows_from_columns(value, key)
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        return _rows_from_split({"columns": list(columns), "data": value}, key)
    return rows_from_records(value, key)


def rows_from_records(records: Any, key: str = "records") -> pd.DataFrame:
    """A list of row objects as rows."""
    if not isinstance(records, list) or not records or \
            not all(isinstance(row, Mapping) for row in records):
        raise PayloadError(f"{key}: expected a non-empty list of row objects such as "
                           '[{"age": 39, "workclass": "Private"}].')
    return _scalar_frame(pd.DataFrame.from_records(records), key)


def _rows_from_split(value: Any, key: str = "dataframe_split") -> pd.DataFrame:
    if not isinstance(value, Mapping) or not isinstance(value.get("data"), list) or \
            not isinstance(value.get("columns"), list):
        raise PayloadError(f'{key}: expected {{"columns": [...], "data": [[...], ...]}}.')
    names, data = value["columns"], value["data"]
    if not data or any(not isinstance(row, list) or len(row) != len(names) for row in data):
        raise PayloadError(f"{key}: every row of data needs {len(names)} values, one per column "
                           f"({', '.join(map(str, names))}).")
    return _scalar_frame(pd.DataFrame(data, columns=[str(name) for name in names]), key)


def _rows_from_columns(value: Mapping[str, Any], key: str) -> pd.DataFrame:
    lengths = {len(v) if isinstance(v, list) else -1 for v in value.values()}
    if not value or -1 in lengths or len(lengths) != 1 or 0 in lengths:
        raise PayloadError(f"{key}: as columns, every value must be a list of the same, "
                           "non-zero length.")
    return _scalar_frame(pd.DataFrame({str(k): v for k, v in value.items()}), key)


def _rows_from_csv(body: bytes, na_values: Sequence[str] | None) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(body), na_values=list(na_values) if na_values else None)
    except (ValueError, UnicodeDecodeError) as error:
        raise PayloadError(f"the CSV body cannot be read: {error}.") from None
    if frame.empty:
        raise PayloadError("the CSV body has no rows; send a header row and at least one row.")
    return frame


def _scalar_frame(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Refuse nested values (objects or lists inside a cell), naming the column."""
    for column in frame.columns[frame.dtypes.map(lambda dtype: dtype == "object")]:
        nested = frame[column].map(lambda v: isinstance(v, dict | list))
        if nested.any():
            raise PayloadError(f"{key}: column '{column}' holds nested values (objects or lists)"
                               "; each cell must be a number, a string, a boolean or null.")
    return frame
