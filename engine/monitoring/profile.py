"""The reference profile a bundle keeps: what ``monitor`` compares new rows against.

Written at training time from plain values (the training rows, and the model's answers on the
held-out rows that the evaluation already computed), sealed in the bundle's manifest, and read
back with :func:`load_reference` only after its bytes match the manifest's digests.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype, is_object_dtype
from sklearn.isotonic import IsotonicRegression

from engine.config.schema.monitor import MonitorConfig
from engine.data.splits import seeded_sample
from engine.deploy.bundle import REFERENCE_FILE, REFERENCE_SAMPLE_FILE, Bundle, read_sealed
from engine.errors import DataError
from engine.evaluation.responses import Responses
from engine.monitoring.columns import PREDICTION, TARGET, probability_column
from engine.monitoring.profile_columns import (
    categorical_profile,
    column_profiles,
    numeric_profile,
)
from engine.tracking.records import (
    CalibrationMap,
    ColumnProfile,
    ReferenceProfile,
    parse_record,
)


@dataclass(frozen=True)
class ScoredRows:
    """The rows the reference's predictions come from: their inputs, the model's prediction
    (in the original labels), each class's probability (one column per class label; none for a
    regressor or a classifier without probabilities), and the true target. ``out_of_sample``
    is False when they are training rows (a run without a test split)."""

    inputs: pd.DataFrame
    prediction: np.ndarray
    probabilities: pd.DataFrame
    target: np.ndarray
    out_of_sample: bool


@dataclass(frozen=True)
class Reference:
    """A bundle's reference profile, and its sample of held-out rows (None when it kept none)."""

    profile: ReferenceProfile
    sample: pd.DataFrame | None


def scored_rows(responses: Responses, inputs: pd.DataFrame, target: np.ndarray,
                classes: list[Any], *, out_of_sample: bool) -> ScoredRows:
    """The model's ``responses`` on ``inputs`` (computed once, shared with the scorers) as
    the reference keeps them: predicted labels, and each class's probability where the model
    gives them."""
    _, predicted = responses.get("predict")
    probabilities = pd.DataFrame(index=range(len(inputs)))
    if classes:
        predicted = np.asarray(classes, dtype=object)[predicted.astype(int)]
        if hasattr(responses.model, "predict_proba"):
            probabilities = pd.DataFrame(responses.get("predict_proba")[1], columns=classes)
    return ScoredRows(inputs, predicted, probabilities, target, out_of_sample)


def build_reference(training: pd.DataFrame, scored: ScoredRows, *, task: str,
                    text_columns: Collection[str], scores: Mapping[str, float],
                    intervals: Mapping[str, Mapping[str, float]], monitor: MonitorConfig,
                    seed: int) -> Reference:
    """The profile of every input column over ``training`` (all of the run's rows), of the
    prediction, probabilities and target over ``scored``, the test ``scores`` with their
    ``intervals``, an isotonic calibration map per class (held-out rows only), and a seeded
    sample of ``monitor.reference.sample_rows`` scored rows."""
    settings = monitor.reference
    bins, top = settings.bins, settings.max_categories
    regression = task == "regression"

    def answer(values: np.ndarray) -> ColumnProfile:
        return (numeric_profile(np.asarray(values, float), bins=bins) if regression
                else categorical_profile(pd.Series(values), max_categories=top))

    sample = reference_sample(scored, settings.sample_rows, seed)
    profile = ReferenceProfile.model_validate({
        "rows": len(training),
        "columns": column_profiles(training, text_columns=text_columns, bins=bins,
                                   max_categories=top),
        "prediction": answer(scored.prediction),
        "probabilities": {str(label): numeric_profile(values.to_numpy(float), bins=bins)
                          for label, values in scored.probabilities.items()},
        "target": answer(scored.target),
        "scores": {name: _score(value) for name, value in scores.items()},
        "intervals": {name: {key: _score(interval[key]) for key in ("low", "high", "std")}
                      for name, interval in intervals.items()},
        "calibration": calibration(scored) if scored.out_of_sample else {},
        "out_of_sample": scored.out_of_sample,
        "sample_rows": 0 if sample is None else len(sample),
        "seed": seed,
        "monitor": monitor.model_dump(mode="json"),
    })
    return Reference(profile, sample)


def calibration(scored: ScoredRows) -> dict[str, CalibrationMap]:
    """Per class, the isotonic map from its predicted probability to how often the held-out rows
    were of that class; rebuild it with ``numpy.interp(p, map.x, map.y)``."""
    maps = {}
    for label, probability in scored.probabilities.items():
        isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        isotonic.fit(probability.to_numpy(float), (scored.target == label).astype(float))
        maps[str(label)] = CalibrationMap(x=isotonic.X_thresholds_.tolist(),
                                          y=isotonic.y_thresholds_.tolist())
    return maps


def reference_sample(scored: ScoredRows, rows: int, seed: int) -> pd.DataFrame | None:
    """At most ``rows`` of the scored rows, drawn with ``seed``: the inputs, ``_prediction``,
    ``_probability:<class>`` and ``_target``. None for ``rows=0``."""
    if not rows:
        return None
    picked = seeded_sample(len(scored.inputs), rows, seed)
    sample = scored.inputs.iloc[picked].reset_index(drop=True)
    answers = {PREDICTION: scored.prediction[picked],
               **{probability_column(label): values.to_numpy(float)[picked]
                  for label, values in scored.probabilities.items()},
               TARGET: scored.target[picked]}
    return _parquet_safe(pd.concat([sample, pd.DataFrame(answers)], axis=1))


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A column of mixed Python types (``1`` beside ``"x"``, which Parquet cannot store) as
    text; the profile keys categories by their text too."""
    mixed = [column for column, dtype in frame.dtypes.items() if is_object_dtype(dtype)
             and infer_dtype(frame[column], skipna=True).startswith("mixed")]
    return frame.astype(dict.fromkeys(mixed, "string")) if mixed else frame


def load_reference(bundle: Bundle) -> Reference:
    """The bundle's reference profile and sample, each parsed only once its bytes match the
    manifest's digest (and the manifest its signature, where a key is set)."""
    directory = bundle.directory
    data = read_sealed(directory, REFERENCE_FILE)
    if data is None:
        raise DataError(
            f"model bundle '{directory}' was written by an older engine and holds no reference "
            f"profile ({REFERENCE_FILE}); re-run the experiment with this engine to write one."
        )
    profile = parse_record(data, ReferenceProfile, directory / REFERENCE_FILE)
    sample_bytes = read_sealed(directory, REFERENCE_SAMPLE_FILE)
    if (sample_bytes is None) != (profile.sample_rows == 0):
        raise DataError(
            f"model bundle '{directory}': {REFERENCE_FILE} records {profile.sample_rows} sample "
            f"rows but {REFERENCE_SAMPLE_FILE} is {'absent' if sample_bytes is None else 'there'};"
            " the bundle was changed after training. Re-run the experiment to rebuild it."
        )
    sample = None if sample_bytes is None else pd.read_parquet(io.BytesIO(sample_bytes))
    return Reference(profile, sample)


def _score(value: float | None) -> float | None:
    """A score as the record keeps it: null where it could not be computed (NaN)."""
    return None if value is None or not np.isfinite(value) else float(value)

