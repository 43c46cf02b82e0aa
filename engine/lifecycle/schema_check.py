"""The new rows against the champion's input schema: a challenger is retrained with the
champion's own config, so a column added, dropped or retyped since training is a change a person
decides on (a new training run), not something a retraining step quietly follows."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from engine.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from engine.deploy.bundle import Bundle

FIX = ("retrain keeps the champion's input columns: train and register a new model by hand "
       "for the new schema, or fix the source")


def check_schema(frame: pd.DataFrame, bundle: Bundle, *, description: str,
                 also: Collection[str] = ()) -> None:
    """One line naming the first column added, dropped or retyped since the champion trained;
    ``also`` are columns the rows may carry besides its inputs (target, time, dropped ones)."""
    from engine.features.selectors import column_kind

    columns = bundle.schema["columns"]
    expected = {column["name"] for column in columns}
    for column in columns:
        if column["name"] not in frame.columns:
            raise DataError(f"schema changed: column '{column['name']}' ({column['kind']}), "
                            f"which the champion was trained on, is missing from "
                            f"{description} (dropped); {FIX}.")
    passed = {bundle.metadata.target, *(bundle.metadata.reading.drop or []), *also}
    for name in map(str, frame.columns):
        if name not in expected and name not in passed and not name.startswith("_"):
            raise DataError(f"schema changed: column '{name}' of {description} is new (added "
                            f"since the champion was trained); {FIX}.")
    for column in columns:
        values = frame[column["name"]]
        if column["kind"] == "text" or not values.notna().any():
            continue
        kind = column_kind(values)
        if kind != column["kind"] and not _parses_as(values, column["kind"]):
            raise DataError(f"schema changed: column '{column['name']}' of {description} holds "
                            f"{kind} values ({values.dtype}), but the champion was trained on "
                            f"{column['kind']} ({column['dtype']}) (retyped); {FIX}.")


def _parses_as(values: pd.Series, kind: str) -> bool:
    """Whether text values all read as ``kind`` (numbers, or dates), as the model's input
    check reads them."""
    import pandas as pd

    present = values.dropna()
    if kind == "numeric" and not pd.api.types.is_bool_dtype(values):
        return bool(pd.to_numeric(present, errors="coerce").notna().all())
    if kind == "datetime":
        return bool(pd.to_datetime(present, errors="coerce", utc=True,
                                   format="ISO8601").notna().all())
    return False
