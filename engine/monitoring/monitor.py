"""Judging new rows against a model's reference profile, chunk by chunk: data drift per column,
prediction drift, data quality, target drift once labels exist, and performance (measured with
labels, estimated without).

The rows are a data file predicted with the bundle, or the prediction log serving wrote; either
way a frame of the input columns, ``_prediction``, ``_probability:<class>`` and, where labels
are known, ``_target`` (names in :mod:`engine.monitoring.columns`).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from engine.config.schema.monitor import MonitorConfig
from engine.deploy.bundle import Bundle
from engine.errors import ConfigError
from engine.monitoring import performance
from engine.monitoring.columns import PREDICTION, PROBABILITY, TARGET, TIME, probability_column
from engine.monitoring.summary import (
    Alert,
    ChunkRecord,
    ColumnQuality,
    DriftResult,
    EstimateRecord,
    Quality,
)
from engine.tracking.records import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    ReferenceProfile,
)

CHUNK = re.compile(r"^(\d+)(d|h|rows)$")
OUT_OF_RANGE_SHARE = 0.01
"""A column is flagged when more than this share of its values lie outside the training range."""
DRIFT_THREADS = min(4, os.cpu_count() or 1)
"""Columns whose drift is computed at once: a million rows' Wasserstein distance is mostly
numpy's sort, which runs outside the GIL."""
MISSING_RISE = 0.05
"""A column's missing share is flagged when it rose by at least this much over the reference's
and a binomial test against the reference's rate gives p < 0.01."""


def parse_chunk(text: str) -> tuple[int, str]:
    """``"1d"`` -> ``(1, "d")``, ``"5000rows"`` -> ``(5000, "rows")``."""
    match = CHUNK.fullmatch(text.strip())
    if match is None or int(match.group(1)) < 1:
        raise ConfigError(f"--chunk: {text!r} is not a chunk size; use a number of days, hours "
                          "or rows, at least 1, e.g. 1d, 6h or 5000rows.")
    return int(match.group(1)), match.group(2)


def chunks(frame: pd.DataFrame, chunk: str) -> Iterator[tuple[str, str | None, str | None,
                                                               pd.DataFrame]]:
    """``(label, start, end, rows)`` per chunk: periods of time when the rows carry a time and
    the chunk is in days or hours, otherwise runs of rows (all rows when the size is in time)."""
    size, unit = parse_chunk(chunk)
    if unit != "rows" and TIME in frame.columns:
        times = pd.to_datetime(frame[TIME], utc=True)
        width = pd.Timedelta(days=size) if unit == "d" else pd.Timedelta(hours=size)
        origin = times.min().floor("D")
        steps = ((times - origin) // width).to_numpy()  # the period of each row, from origin
        if len(steps) and not np.isnan(steps).any() and (np.diff(steps) >= 0).all():
            # in time order (as the log is read): each period is a slice, no copy of its rows
            cuts = [0, *(np.flatnonzero(np.diff(steps)) + 1).tolist(), len(steps)]
            periods: Iterable[tuple[Any, pd.DataFrame]] = (
                (steps[first], frame.iloc[first:last])
                for first, last in itertools.pairwise(cuts))
        else:
            periods = frame.groupby(steps, sort=True)
        for step, rows in periods:
            begin = origin + int(step) * width
            yield (begin.isoformat(), begin.isoformat(), (begin + width).isoformat(), rows)
        return
    step = size if unit == "rows" else max(len(frame), 1)
    for first in range(0, len(frame), step):
        rows = frame.iloc[first:first + step]
        yield f"rows {first}-{first + len(rows) - 1}", None, None, rows


def judge_chunk(label: str, start: str | None, end: str | None, rows: pd.DataFrame, *,
                profile: ReferenceProfile, sample: pd.DataFrame | None, settings: MonitorConfig,
                columns: Sequence[str], task: str, classes: Sequence[Any], metrics: Sequence[str],
                seed: int, schema_warnings: Sequence[str] = ()) -> ChunkRecord:
    """Everything ``monitor`` reports about one chunk."""
    from engine.monitoring.drift import dataset_drift

    with ThreadPoolExecutor(max_workers=DRIFT_THREADS) as pool:  # numpy's sorts release the GIL
        judged = list(pool.map(
            lambda column, values: _drift(column, profile.columns[column], sample, values,
                                          settings),
            columns, [rows[column] for column in columns]))
    tested = [found for found in judged if found is not None]
    verdict = dataset_drift([raw for raw, _ in tested], settings.drift) if tested else False
    drift = [record for _, record in tested]
    prediction = [found[1] for name, reference in _prediction_profiles(profile, classes)
                  if name in rows.columns
                  and (found := _drift(name, reference, sample, rows[name], settings))
                  is not None]
    labels = rows[TARGET].dropna() if TARGET in rows.columns else pd.Series(dtype=float)
    tested_target = (_drift(TARGET, profile.target, sample, labels, settings)
                     if len(labels) else None)
    target = tested_target[1] if tested_target is not None else None
    measured = performance.realised(rows, classes=classes, metrics=metrics, profile=profile,
                                    settings=settings.performance, seed=seed) \
        if len(labels) else []
    estimate = None
    if settings.performance.estimate:
        guess = performance.estimated(rows, task=task, classes=classes, profile=profile,
                                      settings=settings.performance, seed=seed)
        estimate = EstimateRecord(valid=guess.valid, reason=guess.reason,
                                  metrics=list(guess.metrics),
                                  missed=_missed(guess.metrics, measured))
    drifted = [d.column for d in drift if d.drifted]
    return ChunkRecord(
        label=label, start=start, end=end, rows=len(rows), labelled=len(labels), drift=drift,
        drifted_columns=drifted, drift_share=len(drifted) / len(drift) if drift else 0.0,
        dataset_drift=bool(verdict), prediction_drift=prediction, target_drift=target,
        quality=quality(rows, profile, columns, schema_warnings),
        performance=list(measured), estimated=estimate)


def schema_warnings(bundle: Bundle, rows: pd.DataFrame, hidden: Collection[str] = ()) -> list[str]:
    """What the bundle's schema check (``predict``'s) says of a chunk's input columns: unseen
    categories, values of the wrong type. Not checked when the log hid a column (excluded, or
    hashed: a digest is no category)."""
    from engine.deploy.input_schema import conform
    from engine.errors import SchemaError

    names = [column["name"] for column in bundle.schema["columns"]]
    if any(name not in rows.columns or name in hidden for name in names):
        return []
    # check_rows(bundle, rows[names])'s warnings, without conforming (copying) the float
    # columns it passes through unchecked: the rows hold no column beyond the schema's, so
    # no warning of extra columns either way, and a float64 numeric column never warns
    checked = [column for column in bundle.schema["columns"]
               if not (column["kind"] == "numeric" and rows[column["name"]].dtype == "float64")]
    try:
        return conform(rows[[column["name"] for column in checked]],
                       {**bundle.schema, "columns": checked})[1]
    except SchemaError as error:
        return [str(error)]


def _missed(estimates: Sequence[performance.MetricResult],
            measured: Sequence[performance.MetricResult]) -> list[str]:
    """Where labels came too, the estimates whose interval misses the measured value: P(y | x)
    changed (concept drift), or the rows lie where the reference had none; trust the labels."""
    found = []
    by_name = {m.metric: m for m in measured}
    for guess in estimates:
        real = by_name.get(guess.metric)
        if real is None or real.value is None or guess.low is None or guess.high is None:
            continue
        if not guess.low <= real.value <= guess.high:
            found.append(f"measured {guess.metric} {real.value:.4g} lies outside the estimate's "
                         f"interval [{guess.low:.4g}, {guess.high:.4g}]: P(y | x) changed "
                         "(concept drift) or the rows lie outside the reference's range; "
                         "trust the measured value")
    return found


def _drift(column: str, reference: ColumnProfile, sample: pd.DataFrame | None,
           current: pd.Series, settings: MonitorConfig) -> tuple[Any, DriftResult] | None:
    """The drift module's result for one column, and its record (None: no values to test)."""
    from engine.monitoring.drift import column_drift

    if not current.notna().any():
        return None
    reference_values = sample[column].dropna() if sample is not None and column in sample else None
    # the missing values are left to column_drift, which leaves them out of every test (no
    # copy of a million rows less its missing ones)
    found = column_drift(column, reference, reference_values, current, settings.drift)
    return found, DriftResult(column=str(found.column), kind=str(found.kind),
                              test=str(found.test), statistic=_number(found.statistic),
                              p_value=_number(found.p_value), threshold=float(found.threshold),
                              drifted=bool(found.drifted))


def _prediction_profiles(profile: ReferenceProfile,
                         classes: Sequence[Any]) -> list[tuple[str, ColumnProfile]]:
    """The prediction, and (binary) the positive class's probability, with their profiles."""
    found: list[tuple[str, ColumnProfile]] = [(PREDICTION, profile.prediction)]
    if len(classes) == 2:
        column = probability_column(classes[1])
        for key in (column, str(classes[1]), column.removeprefix(PROBABILITY)):
            if key in profile.probabilities:
                found.append((column, profile.probabilities[key]))
                break
    return found


def quality(rows: pd.DataFrame, profile: ReferenceProfile, columns: Sequence[str],
            schema_warnings: Sequence[str] = ()) -> Quality:
    """Missing shares against the reference's, values outside the training range and
    categories training never saw, per input column."""
    found, flagged = [], []
    for column in columns:
        reference = profile.columns[column]
        values = rows[column]
        absent = int(values.isna().sum())
        missing = absent / len(values) if len(values) else 0.0
        rise = (missing - reference.missing >= MISSING_RISE and len(values) > 0 and binomtest(
            absent, len(values), min(max(reference.missing, 1e-6), 1.0),
            alternative="greater").pvalue < 0.01)
        out_of_range, unseen, unseen_values = 0, 0, []
        present = len(values) - absent  # missing values are neither out of range nor unseen
        if isinstance(reference, NumericProfile) and present:
            numbers = values if pd.api.types.is_numeric_dtype(values) \
                else pd.to_numeric(values, errors="coerce")
            out_of_range = int(((numbers < reference.minimum)
                                | (numbers > reference.maximum)).sum())
        elif isinstance(reference, CategoricalProfile) and reference.other == 0 and present:
            counts = values.value_counts()  # each distinct value written once, not each row
            texts = [_category_text(value) for value in counts.index]
            new = {text: int(count) for text, count in zip(texts, counts.to_numpy(), strict=True)
                   if text not in reference.shares}
            unseen, unseen_values = sum(new.values()), sorted(new)[:10]
        entry = ColumnQuality(column=column, missing=missing,
                              reference_missing=float(reference.missing),
                              missing_increase=bool(rise), out_of_range=out_of_range,
                              unseen=unseen, unseen_values=unseen_values)
        if rise or unseen or out_of_range > OUT_OF_RANGE_SHARE * max(present, 1):
            flagged.append(column)
        found.append(entry)
    return Quality(warnings=list(schema_warnings), columns=found, flagged=flagged)


def _category_text(value: Any) -> str:
    """A category as the profile writes it (JSON keys are text): ``1.0`` as ``1``."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def alerts(chunk: ChunkRecord) -> list[Alert]:
    """The thresholds a chunk crossed."""
    found = []
    if chunk.dataset_drift:
        found.append(Alert(kind="dataset_drift", chunk=chunk.label, message=(
            f"{len(chunk.drifted_columns)} of {len(chunk.drift)} columns drifted "
            f"({chunk.drift_share:.0%}): {', '.join(chunk.drifted_columns)}")))
    moved = [f"{r.column} ({r.test} {_shown(r.statistic)}, threshold {r.threshold:g})"
             for r in chunk.prediction_drift if r.drifted]
    if moved:
        found.append(Alert(kind="prediction_drift", chunk=chunk.label,
                           message="the predictions drifted: " + ", ".join(moved)))
    if chunk.target_drift is not None and chunk.target_drift.drifted:
        found.append(Alert(kind="target_drift", chunk=chunk.label, message=(
            f"the labels drifted ({chunk.target_drift.test} "
            f"{_shown(chunk.target_drift.statistic)})")))
    decayed = [f"{m.metric} {_shown(m.value)} < {_shown(m.threshold)} (reference "
               f"{_shown(m.reference)})" for m in chunk.performance if m.decayed]
    if decayed:
        found.append(Alert(kind="decay", chunk=chunk.label, message=(
            f"on {chunk.labelled} labelled rows: " + ", ".join(decayed))))
    guessed = [f"{m.metric} {_shown(m.value)} < {_shown(m.threshold)} (reference "
               f"{_shown(m.reference)})" for m in
               (chunk.estimated.metrics if chunk.estimated is not None else []) if m.decayed]
    if guessed:
        found.append(Alert(kind="estimated_decay", chunk=chunk.label,
                           message="estimated without labels: " + ", ".join(guessed)))
    if chunk.quality.flagged:
        found.append(Alert(kind="data_quality", chunk=chunk.label, message=(
            f"data quality: {', '.join(chunk.quality.flagged)}")))
    return found


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def _shown(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"
