"""Apply the ``dataset.dtypes`` overrides: cast named columns after reading."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionDtype
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype, pandas_dtype

from engine.data.validation import shown, unknown_column_message
from engine.errors import ConfigError, did_you_mean

COMMON_DTYPES = (
    "bool", "category", "datetime64[ns]", "float32", "float64", "int32", "int64", "Int64", "str",
)  # fmt: skip
_BOOL_WORDS = {
    **dict.fromkeys(("true", "t", "yes", "y", "1", "1.0"), True),
    **dict.fromkeys(("false", "f", "no", "n", "0", "0.0"), False),
}


def apply_dtypes(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Cast each column named in ``dtypes``; an unknown column or a failed cast is a ConfigError."""
    for column, dtype in dtypes.items():
        key = f"dataset.dtypes.{column}"
        if column not in frame.columns:
            raise ConfigError(unknown_column_message(key, column, frame.columns))
        target = named_dtype(dtype, key)
        try:
            frame[column] = _cast(frame[column], target)
        except (TypeError, ValueError) as error:
            raise ConfigError(
                f"{key}: cannot convert column '{column}' ({frame[column].dtype}) to {dtype!r}: "
                f"{error}. Pick a dtype that fits the values (e.g. 'Int64' for whole numbers with "
                "gaps), or fix the column."
            ) from error
    return frame


def named_dtype(dtype: str, key: str) -> np.dtype | ExtensionDtype:
    """The pandas dtype ``dtype`` names; an unknown name is a ConfigError with did-you-mean (the
    config schema asks this before any data loads)."""
    try:
        return pandas_dtype(str(dtype))
    except TypeError as error:
        raise ConfigError(
            f"{key}: unknown dtype {dtype!r}.{did_you_mean(dtype, COMMON_DTYPES)} "
            f"Common dtypes: {', '.join(COMMON_DTYPES)}."
        ) from error


def _cast(column: pd.Series, dtype: np.dtype | ExtensionDtype) -> pd.Series:
    """Cast one column; text becomes bool only through true/false words, never by truthiness."""
    if is_bool_dtype(dtype) and not is_bool_dtype(column):
        return to_bool(column)
    if is_datetime64_any_dtype(dtype) and not is_numeric_dtype(column):
        return pd.to_datetime(column).astype(dtype)
    return column.astype(dtype)


def to_bool(column: pd.Series) -> pd.Series:
    """Read true/false, yes/no, 1/0 (any case) as booleans; missing values give a nullable bool."""
    words = column.astype("str").str.strip().str.lower()
    flags = words.map(_BOOL_WORDS)
    unknown = flags.isna() & column.notna()
    if unknown.any():
        raise ValueError(
            f"{shown(column[unknown].iloc[0])} is not a true/false, yes/no or 1/0 value"
        )
    return flags.astype("boolean") if column.isna().any() else flags.astype(bool)
