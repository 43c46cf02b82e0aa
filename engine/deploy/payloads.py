"""Request bodies as rows: MLflow's scoring formats (so MLflow clients work unchanged) and the
engine's own ``{"records": [...]}``.

MLflow's ``/invocations`` takes JSON with exactly one of ``dataframe_split`` (``{columns,
data}``), ``dataframe_records`` (a list of row objects), ``instances`` or ``inputs`` (row
objects, a mapping of columns to lists, or rows as lists in the schema's column order), plus
an optional ``params``; or CSV with a header row.

A JSON body's nesting is measured while it streams in (:class:`JsonDepth`), before any parser
sees it, so a body nested 100,000 deep is refused, not a recursion error.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types

from engine.errors import SchemaError

JSON_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_STRING_REST = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*(\\?)(")?', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


class PayloadError(SchemaError):
    """A request body that is not rows in a known format (answered 400)."""


class TooLarge(SchemaError):
    """A body, a row count or a cell above the limits (answered 413)."""


class JsonDepth:
    """The deepest nesting of a JSON text fed in chunks, without parsing it: strings are cut
    out and brackets counted by regular expressions and numpy, so the cost is a few passes at C
    speed whatever the body holds. ``JsonDepth().feed(b'{"a": [[1]]}')`` is 3."""

    def __init__(self) -> None:
        self.deepest = 0
        self._depth = 0
        self._in_string = False
        self._escaped = False  # the last chunk ended inside a string, on a backslash

    def feed(self, chunk: bytes) -> int:
        """Take the next chunk; the deepest nesting so far."""
        start = 0
        if self._in_string and chunk:
            closed, self._escaped = _string_end(chunk, int(self._escaped))
            if closed is None:
                return self.deepest
            start, self._in_string = closed, False
        outside = _STRING.sub(b"", chunk[start:])
        opened = outside.find(b'"')
        if opened >= 0:  # a string runs on into the next chunk
            self._in_string = True
            self._escaped = _string_end(outside, opened + 1)[1]
            outside = outside[:opened]
        self._count(outside.translate(None, _NOT_BRACKETS))
        return self.deepest

    def _count(self, brackets: bytes) -> None:
        if not brackets:
            return
        codes = np.frombuffer(brackets, np.uint8)
        levels = self._depth + np.cumsum(np.where((codes == ord("[")) | (codes == ord("{")),
                                                  1, -1))
        self.deepest = max(self.deepest, int(levels.max()))
        self._depth = int(levels[-1])


def _string_end(text: bytes, start: int) -> tuple[int | None, bool]:
    """Where a string running at ``start`` closes (None: not in ``text``), and whether ``text``
    ends inside it on a lone backslash (escaping the next chunk's first byte)."""
    rest = _STRING_REST.match(text, start)
    if rest is None or rest[2] is None:
        return None, bool(rest and rest[1])
    return rest.end(), False


def is_json(content_type: str) -> bool:
    """Whether a body of this Content-Type is read as JSON (none given is JSON)."""
    kind = content_type.split(";")[0].strip().lower()
    return kind in ("", "application/json") or kind.endswith("+json")


def check_cell_sizes(frame: pd.DataFrame, limit: int) -> None:
    """Refuse a column name or a text cell longer than ``limit`` characters (TooLarge), naming
    the column and the row."""
    for name in map(str, frame.columns):
        if len(name) > limit:
            raise TooLarge(f"a column name of {len(name):,} characters ('{name[:20]}...'); the "
                           f"limit is {limit:,} characters a cell (--max-cell-chars).")
    for column in frame.columns[frame.dtypes.map(types.is_string_dtype)]:
        lengths = frame[column].map(lambda v: len(v) if isinstance(v, str) else 0).to_numpy()
        if len(lengths) and lengths.max() > limit:
            raise TooLarge(f"column '{column}', row {int(lengths.argmax())}: a cell of "
                           f"{int(lengths.max()):,} characters; the limit is {limit:,} "
                           "characters a cell (--max-cell-chars).")


def rows_from_body(body: bytes, content_type: str, columns: Sequence[str], *,
                   na_values: Sequence[str] | None = None) -> pd.DataFrame:
    """The rows in a request body; ``columns`` order rows sent as plain lists, ``na_values``
    are a CSV body's missing-value markers besides pandas' own (the training file's)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        return _rows_from_csv(body, na_values)
    if not is_json(kind):
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
