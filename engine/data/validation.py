"""Small checks shared by the data modules: unknown columns, values as users read them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from engine.errors import did_you_mean


def unknown_column_message(key: str, column: str, columns: Iterable[str]) -> str:
    """``<key>: column 'x' is not in the data. Did you mean ...? Columns: ...``"""
    columns = [str(name) for name in columns]
    return (
        f"{key}: column {column!r} is not in the data.{did_you_mean(column, columns)} "
        f"Columns: {', '.join(columns)}."
    )


def shown(value: Any) -> str:
    """``repr`` of a data value, without numpy's wrapper: ``3``, not ``np.int64(3)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def pasteable(key: str, value: str | Sequence[str]) -> str:
    """The override ``key=value`` as a shell command line takes it verbatim: a list's items and
    a value with characters other than letters, digits, ``_ . - /`` quoted for Hydra, the whole
    in double quotes for the shell. ``pasteable("dataset.na_values", ["?"])`` gives
    ``"dataset.na_values=['?']"``."""
    if isinstance(value, str) and re.fullmatch(r"[\w.\-/]+", value):
        return f"{key}={value}"
    text = (_hydra_quoted(value) if isinstance(value, str)
            else "[" + ",".join(map(_hydra_quoted, value)) + "]")
    return '"' + re.sub(r'(["$`\\])', r"\\\1", f"{key}={text}") + '"'


def _hydra_quoted(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"
