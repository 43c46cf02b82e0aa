"""The loaded dataset: features, target, task, and the optional group and time columns."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from engine.data.column_types import ColumnTypes


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features ``X`` (target and dropped columns removed) and target ``y``, aligned by position.

    ``groups`` and ``order`` come from ``dataset.group_column`` and ``dataset.time_column``;
    ``column_types`` records the columns the loader read as dates and the markers it found.
    """

    name: str
    X: pd.DataFrame
    y: pd.Series
    task: str
    groups: pd.Series | None = None
    order: pd.Series | None = None
    dropped_missing_target: int = 0
    column_types: ColumnTypes = field(default_factory=ColumnTypes)

    @property
    def is_classification(self) -> bool:
        """True for the binary and multiclass tasks."""
        return self.task != "regression"

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 hex of the values, column names and dtypes of ``X`` and ``y``."""
        digest = hashlib.sha256()
        for frame in (self.X, self.y.to_frame()):
            schema = [(str(name), str(dtype)) for name, dtype in frame.dtypes.items()]
            digest.update(repr(schema).encode())
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        return digest.hexdigest()
