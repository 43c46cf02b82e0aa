"""Batch prediction from a run's bundle: ``python -m engine predict RUN INPUT [-o OUT]``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.data.casting import apply_dtypes
from engine.deploy.bundle import Bundle
from engine.deploy.input_schema import conform
from engine.errors import ConfigError, DataError, SchemaError, did_you_mean, first_line
from engine.evaluation.responses import Responses
from engine.tracking.files import write_atomically
from engine.tracking.records import DatasetReading

READERS: dict[str, Callable[..., pd.DataFrame]] = {
    ".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet,
}


def read_rows(path: Path, reading: DatasetReading | None = None) -> pd.DataFrame:
    """Read the rows to predict from a CSV or Parquet file, as the training data was read.

    ``reading`` is the bundle's record of the dataset's ``na_values``, ``read_options`` and
    ``dtypes``, so a file in the training format predicts the same way.
    """
    reading = reading or DatasetReading()
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"input: '{path}' has an unknown suffix; use a .csv or .parquet file.")
    if not path.is_file():
        raise DataError(f"input: file '{path}' does not exist (resolved to {path.resolve()}).")
    options = dict(reading.read_options or {})
    if reader is pd.read_csv and reading.na_values:
        options["na_values"] = list(reading.na_values)
    try:
        frame = reader(path, **options)
    except (ValueError, OSError) as error:
        raise DataError(f"input: cannot read '{path}': {first_line(error)}.") from None
    return apply_reading(frame, reading)


def apply_reading(frame: pd.DataFrame, reading: DatasetReading) -> pd.DataFrame:
    """Rows already parsed (a request's JSON, a Parquet file) read by the training data's rules:
    its ``na_values`` markers missing, its ``dtypes`` cast (on the columns present).

    A value the cast refuses is a SchemaError naming the column, e.g. ``'maybe'`` for a column
    trained as ``bool``.
    """
    markers = [*(reading.na_values or ()), *_numbers(reading.na_values or ())]
    if markers:
        hits = frame.isin(markers)
        frame = frame.mask(hits) if hits.to_numpy().any() else frame
    dtypes = {c: t for c, t in (reading.dtypes or {}).items() if c in frame.columns}
    frame = frame.copy() if dtypes else frame
    for column, dtype in dtypes.items():
        try:
            apply_dtypes(frame, {column: dtype})
        except ConfigError as error:
            cause = first_line(error.__cause__) if error.__cause__ else str(error)
            raise SchemaError(
                f"column '{column}': {cause}; the model was trained with "
                f"dataset.dtypes.{column}={dtype!r}: send values of that type."
            ) from None
    return frame


def _numbers(markers: Sequence[str]) -> list[float]:
    """The markers that are numbers, as numbers: ``"-999"`` marks -999 in a JSON number column,
    as read_csv's ``na_values`` does in a CSV file."""
    numbers = pd.to_numeric(pd.Series(list(markers), dtype=object), errors="coerce").dropna()
    return [float(number) for number in numbers]


def check_output_path(path: Path) -> Path:
    """Refuse an output file that is neither .csv nor .parquet, before any work is done."""
    if path.suffix.lower() not in READERS:
        raise DataError(
            f"output: '{path}' has an unknown suffix {path.suffix!r}; use a .csv or .parquet "
            "file."
        )
    return path


def write_rows(frame: pd.DataFrame, path: Path) -> Path:
    """Write predictions as CSV or Parquet, by the file's suffix."""
    check_output_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        write_atomically(path, lambda out: frame.to_csv(out, index=False))
    else:
        write_atomically(path, lambda out: frame.to_parquet(out, index=False))
    return path


def predict_rows(
    bundle: Bundle, rows: pd.DataFrame, *, strict: bool = False, keep: Sequence[str] = (),
) -> tuple[pd.DataFrame, list[str]]:
    """Predictions (and class probabilities for classifiers) for rows checked against the schema.

    With ``strict`` every schema warning (extra columns, unseen categories) is an error; the
    input columns named in ``keep`` (an id, say) are copied in front of the predictions.
    """
    if rows.empty:
        raise SchemaError("input: the file has no rows to predict.")
    for column in keep:
        if column not in rows.columns:
            raise SchemaError(
                f"--keep: the input has no column '{column}'."
                f"{did_you_mean(column, map(str, rows.columns))}"
            )
    features, warnings = check_rows(bundle, rows, strict=strict, keep=keep)
    kept = rows[list(keep)].reset_index(drop=True)
    return pd.concat([kept, predict_features(bundle, features)], axis=1), warnings


def check_rows(bundle: Bundle, rows: pd.DataFrame, *, strict: bool = False,
               keep: Sequence[str] = ()) -> tuple[pd.DataFrame, list[str]]:
    """The rows conformed to the bundle's schema, and warnings about what was tolerated (an
    unseen category, an extra column other than the target and ``keep``); with ``strict``
    each is a SchemaError (``python -m engine predict --strict``, ``serve --strict``)."""
    dropped = bundle.metadata.reading.drop or []
    features, warnings = conform(rows, bundle.schema, refuse_unseen=strict,
                                 passed_through=[bundle.metadata.target, *dropped, *keep])
    if strict and warnings:
        raise SchemaError("input (--strict): " + "; ".join(warnings) + ".")
    return features, warnings


def predict_features(bundle: Bundle, features: pd.DataFrame) -> pd.DataFrame:
    """The predictions for rows :func:`check_rows` conformed."""
    pipeline = bundle.pipeline
    return prediction_columns(Responses(pipeline[-1], pipeline[:-1].transform(features)),
                              bundle.metadata.classes)


def prediction_columns(responses: Responses, classes: list[Any]) -> pd.DataFrame:
    """``prediction`` in the original labels, plus ``proba_<class>`` columns for classifiers.

    ``responses`` are the model's on transformed rows: the run's test stage shares them with its
    scorers, so each prediction method runs once.
    """
    _, predicted = responses.get("predict")
    if not classes:
        return pd.DataFrame({"prediction": predicted})
    out = pd.DataFrame({"prediction": np.asarray(classes, dtype=object)[predicted.astype(int)]})
    if hasattr(responses.model, "predict_proba"):
        _, probabilities = responses.get("predict_proba")
        for index, label in enumerate(classes):
            out[f"proba_{label}"] = probabilities[:, index]
    return out
