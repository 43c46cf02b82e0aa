"""``load_dataset``: read the configured source, then split off target, groups and time order."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace

import pandas as pd
from pandas.api.types import is_float_dtype, is_numeric_dtype

from engine.config.schema.dataset import DatasetConfig, FileDataset
from engine.data.builtin_sources import read_sklearn, read_synthetic
from engine.data.casting import apply_dtypes
from engine.data.column_types import ColumnTypes, type_columns
from engine.data.dataset import Dataset
from engine.data.file_source import read_file
from engine.data.sql_source import read_sql
from engine.data.task import infer_task, resolve_task
from engine.data.validation import pasteable, shown, unknown_column_message
from engine.errors import ConfigError, DataError

__all__ = ["SOURCES", "infer_task", "load_dataset"]

SOURCES: dict[str, Callable[..., pd.DataFrame]] = {
    "sklearn": read_sklearn,
    "file": read_file,
    "sql": read_sql,
    "synthetic": read_synthetic,
}
EMPTY_HINT = {
    "sklearn": "dataset.loader",
    "file": "dataset.path",
    "sql": "dataset.query",
    "synthetic": "dataset.n_samples",
}


def load_dataset(dataset: DatasetConfig, *, seed: int) -> Dataset:
    """Load the data the ``dataset`` config group describes; ``seed`` drives synthetic data.

    Rows with a missing target are removed and counted in ``dropped_missing_target``.
    """
    source = dataset.source
    frame = SOURCES[source](dataset, seed=seed)
    frame.columns = [str(column) for column in frame.columns]
    repeated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if repeated:
        raise DataError(
            f"dataset: the {source} source returned repeated column names {repeated}; "
            "give every column its own name (e.g. with SQL aliases: SELECT a.id AS order_id)."
        )
    frame = apply_dtypes(frame, dataset.dtypes or {})
    name = dataset.name or source
    if frame.empty:
        raise DataError(
            f"dataset '{name}' has no rows (source '{source}'); check {EMPTY_HINT[source]}."
        )
    frame, types = type_columns(frame, skip=[dataset.target, *dataset.dropped,
                                             *(dataset.dtypes or {})])
    if types.markers:
        types = replace(types, fix=_marker_fix(dataset, types.marker_values))
    return _split_columns(frame, dataset, name, types)


def _marker_fix(dataset: DatasetConfig, markers: list[str]) -> str:
    """How to read ``markers`` as missing values: an override to paste on the command line (the
    markers added to those already configured), or for SQL a change to the query."""
    if not isinstance(dataset, FileDataset):
        return f"read them as NULL in dataset.query, e.g. NULLIF(column, {markers[0]!r})"
    options = dataset.read_options or {}
    key, configured = "dataset.na_values", dataset.na_values
    if "na_values" in options:  # read_options.na_values wins over dataset.na_values
        key, configured = "dataset.read_options.na_values", options["na_values"]
        if isinstance(configured, dict):
            return f"add them to the lists in {key} for those columns"
    if isinstance(configured, str):
        configured = [configured]
    values = list(dict.fromkeys([*map(str, configured or []), *markers]))
    return f"read them as missing values with {pasteable(key, values)}"


def _split_columns(frame: pd.DataFrame, dataset: DatasetConfig, name: str,
                   types: ColumnTypes) -> Dataset:
    """Separate target, groups and time order from the features."""
    target = dataset.target
    if target not in frame.columns:
        raise DataError(unknown_column_message("dataset.target", target, frame.columns))
    drop = _drop_list(dataset.dropped, frame, target)
    group_column = _optional_column(dataset.group_column, "group_column", frame, target)
    time_column = _optional_column(dataset.time_column, "time_column", frame, target)

    has_target = frame[target].notna()
    dropped = int((~has_target).sum())
    if dropped:
        frame = frame.loc[has_target]
    y = _checked_target(frame[target], dropped)
    task = resolve_task(y, dataset.task)
    if task != "regression" and is_float_dtype(y):
        y = y.astype("int64")  # whole-number floats: keep the labels as integer codes

    removed = {target, *drop, *filter(None, (group_column, time_column))}
    X = frame.drop(columns=[column for column in frame.columns if column in removed])
    if X.shape[1] == 0:
        raise DataError(
            f"dataset.drop: no feature columns are left after removing {sorted(removed)}. "
            "Remove some names from dataset.drop, or check dataset.target."
        )
    return Dataset(
        name=name,
        X=X,
        y=y,
        task=task,
        groups=_groups(frame, group_column),
        order=_time_order(frame, time_column),
        dropped_missing_target=dropped,
        column_types=types,
    )


def _drop_list(columns: list[str], frame: pd.DataFrame, target: str) -> list[str]:
    """The columns to remove, each checked to exist and not to be the target."""
    for column in columns:
        if column == target:
            raise ConfigError(f"dataset.drop: {column!r} is the target; remove it from the list.")
        if column not in frame.columns:
            raise ConfigError(
                unknown_column_message("dataset.drop", column, frame.columns)
                + " The list comes from the dataset config; set it for this data, e.g. "
                "dataset.drop=[]."
            )
    return columns


def _optional_column(
    column: str | None, key: str, frame: pd.DataFrame, target: str
) -> str | None:
    """The column named by ``dataset.<key>``, or None when unset."""
    if column is None:
        return None
    if column not in frame.columns:
        raise ConfigError(unknown_column_message(f"dataset.{key}", column, frame.columns))
    if column == target:
        raise ConfigError(f"dataset.{key}: {column!r} is the target; name another column.")
    return str(column)


def _checked_target(y: pd.Series, dropped: int) -> pd.Series:
    """Refuse a target with no rows left or a single value."""
    if y.empty:
        raise DataError(
            f"dataset.target: column '{y.name}' is missing in all {dropped} rows; "
            "check dataset.target and the data."
        )
    if y.nunique() == 1:
        raise DataError(
            f"dataset.target: column '{y.name}' has a single value ({shown(y.iloc[0])}) in all "
            f"{len(y)} rows; a model needs at least two classes (or two distinct values). "
            "Check dataset.target, and that the source returns the rows you expect."
        )
    return y


def _groups(frame: pd.DataFrame, column: str | None) -> pd.Series | None:
    """The group of each row; every row needs one."""
    if column is None:
        return None
    groups = frame[column]
    if groups.isna().any():
        raise DataError(
            f"dataset.group_column: column '{column}' is missing in {int(groups.isna().sum())} "
            "rows; every row needs a group. Fill those values, or drop those rows in the source."
        )
    return groups


def _time_order(frame: pd.DataFrame, column: str | None) -> pd.Series | None:
    """The time of each row: text is parsed to datetime, numbers (e.g. a year) are kept."""
    if column is None:
        return None
    order = frame[column]
    if not is_numeric_dtype(order) and not pd.api.types.is_datetime64_any_dtype(order):
        try:
            with warnings.catch_warnings():  # parsed one by one: the error below says if not
                warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
                order = pd.to_datetime(order)
        except (TypeError, ValueError) as error:
            raise DataError(
                f"dataset.time_column: cannot read column '{column}' as dates: {error}. "
                "Fix the values, or cast the column with dataset.dtypes."
            ) from error
    if order.isna().any():
        raise DataError(
            f"dataset.time_column: column '{column}' is missing in {int(order.isna().sum())} "
            "rows; a time order needs every row's time. Fill those values, or drop those rows."
        )
    return order
