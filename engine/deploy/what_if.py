"""``python -m engine predict RUN ROWS --what-if column=value``: each row predicted as given and
with the changed inputs, side by side, and how far the predictions moved."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from engine.deploy.batch_predict import predict_rows
from engine.deploy.bundle import Bundle
from engine.errors import SchemaError, did_you_mean

SUFFIX = "_what_if"


def parse_changes(items: Sequence[str], schema: dict[str, Any]) -> dict[str, Any]:
    """``["age=40", "sex=Female"]`` as ``{column: value}``, checked against the schema.

    An empty value (``age=``) makes the column missing.
    """
    columns = {column["name"]: column for column in schema["columns"]}
    changes: dict[str, Any] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise SchemaError(f"--what-if {item!r}: write column=value, e.g. --what-if age=40.")
        if name not in columns:
            raise SchemaError(f"--what-if {item}: the model has no input column {name!r}."
                              f"{did_you_mean(name, columns)} Columns: {', '.join(columns)}.")
        if value and columns[name]["kind"] == "numeric" and \
                pd.isna(pd.to_numeric(value, errors="coerce")):
            raise SchemaError(f"--what-if {item}: column {name!r} takes numbers; got {value!r}.")
        changes[name] = value if value else None
    return changes


def what_if(bundle: Bundle, rows: pd.DataFrame, changes: dict[str, Any], *, strict: bool,
            keep: Sequence[str]) -> tuple[pd.DataFrame, list[str], str]:
    """The predictions as given, as changed and the change; warnings; a one-line summary."""
    before, warnings = predict_rows(bundle, rows, strict=strict, keep=keep)
    changed = rows.copy()
    for column, value in changes.items():
        changed[column] = value
    after, changed_warnings = predict_rows(bundle, changed, strict=strict, keep=keep)
    warnings += [w for w in changed_warnings if w not in warnings]
    out = before.copy()
    classes = [str(c) for c in bundle.metadata.classes]
    out["prediction" + SUFFIX] = after["prediction"]  # both frames: kept columns, then ours
    described = " ".join(f"{c}={'' if v is None else v}" for c, v in changes.items())
    if not classes:
        out["change"] = after["prediction"] - before["prediction"]
        return out, warnings, f"what-if {described}: " + _moves("the prediction", out["change"])
    for label in classes:
        column = f"proba_{label}"
        if column in after:
            out[column + SUFFIX] = after[column]
            out[column + "_change"] = after[column] - before[column]
    flipped = int((before["prediction"].astype(str) != after["prediction"].astype(str)).sum())
    summary = (f"what-if {described}: {flipped} of {len(out)} predicted classes change")
    focus = f"proba_{classes[-1]}_change"
    if focus in out:
        summary += "; " + _moves(f"P({classes[-1]})", out[focus])
    return out, warnings, summary


def _moves(what: str, change: pd.Series) -> str:
    return (f"{what} moves by {change.mean():+.4f} on average (from {change.min():+.4f} to "
            f"{change.max():+.4f})")
