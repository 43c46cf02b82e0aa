"""Which triggers fire on the rows new since the last step.

drift, prediction_drift, estimated_decay and decay are the monitor's own alerts
(:mod:`engine.monitoring.monitor`), judged with the champion's reference profile and its
``monitor`` settings on the new rows as one chunk; schedule counts hours since the last finished
step; new_rows counts rows; manual fires when a person runs ``retrain`` (and the list holds it),
or whatever the list holds with ``retrain --force``. The loop (``lifecycle run``) is no person:
it never fires manual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from engine.config.schema.lifecycle import TriggersConfig
    from engine.deploy.bundle import Bundle
    from engine.monitoring.summary import ChunkRecord

MONITORED = {"drift": "dataset_drift", "prediction_drift": "prediction_drift",
             "estimated_decay": "estimated_decay", "decay": "decay"}
"""Each trigger the monitor judges, and the kind of its alert."""


@dataclass(frozen=True)
class TriggerResult:
    """One trigger: whether it fired, and the value that decided it, in words."""

    name: str
    fired: bool
    detail: str


def evaluate_triggers(settings: TriggersConfig, new: pd.DataFrame, bundle: Bundle, *,
                      last_step: datetime, now: datetime, by_hand: bool,
                      force: bool) -> list[TriggerResult]:
    """Each trigger of ``settings.when`` on the ``new`` rows (inputs and target), in order;
    manual too when ``force`` (``retrain --force``). ``last_step``: when the last retraining
    step finished, else when the champion was registered."""
    results = []
    chunk = _judged(new, bundle) if MONITORED.keys() & set(settings.when) and len(new) else None
    for name in settings.when:
        if name in MONITORED:
            results.append(_monitored(name, chunk, len(new)))
        elif name == "schedule":
            results.append(_schedule(settings, last_step, now))
        elif name == "new_rows":
            every = settings.every_rows or 1
            results.append(TriggerResult(name, len(new) >= every,
                                         f"{len(new)} new rows (every {every})"))
        else:
            results.append(TriggerResult(name, by_hand, "retrain run by hand" if by_hand
                                         else "not by hand (the loop)"))
    if force and "manual" not in settings.when:
        results.append(TriggerResult("manual", True, "retrain --force"))
    return results


def _schedule(settings: TriggersConfig, last_step: datetime, now: datetime) -> TriggerResult:
    every = settings.every_hours or 0.0
    hours = (now - last_step).total_seconds() / 3600
    return TriggerResult("schedule", hours >= every,
                         f"{hours:.1f} h since the last step (every {every:g} h)")


def _monitored(name: str, chunk: ChunkRecord | None, rows: int) -> TriggerResult:
    from engine.monitoring.monitor import alerts

    if chunk is None:
        return TriggerResult(name, False, "no new rows to judge")
    found = [alert.message for alert in alerts(chunk) if alert.kind == MONITORED[name]]
    if found:
        return TriggerResult(name, True, found[0])
    if name == "drift":
        return TriggerResult(name, False, f"{len(chunk.drifted_columns)} of {len(chunk.drift)} "
                                          f"columns drifted ({chunk.drift_share:.0%}) in "
                                          f"{rows} new rows")
    if name == "decay":
        measured = ", ".join(f"{m.metric} {m.value:.4g}" for m in chunk.performance
                             if m.value is not None)
        return TriggerResult(name, False, f"{measured} on {chunk.labelled} labelled new rows"
                             if chunk.labelled else "no labels among the new rows yet")
    if name == "estimated_decay":
        estimate = chunk.estimated
        if estimate is None or not estimate.valid:
            reason = estimate.reason if estimate is not None and estimate.reason else "no estimate"
            return TriggerResult(name, False, str(reason))
        shown = ", ".join(f"{m.metric} {m.value:.4g}" for m in estimate.metrics
                          if m.value is not None)
        return TriggerResult(name, False, f"estimated {shown}")
    return TriggerResult(name, False, "the predictions did not drift")


def _judged(new: pd.DataFrame, bundle: Bundle) -> ChunkRecord:
    """The monitor's record of the new rows as one chunk."""
    import pandas as pd

    from engine.deploy.batch_predict import check_rows, predict_features
    from engine.monitoring.columns import PREDICTION, TARGET, probability_column
    from engine.monitoring.monitor import judge_chunk, schema_warnings
    from engine.monitoring.prediction_log import bundle_monitor
    from engine.monitoring.profile import load_reference

    settings, _ = bundle_monitor(bundle)
    reference = load_reference(bundle)
    profile, metadata = reference.profile, bundle.metadata
    features, _ = check_rows(bundle, new)
    predicted = predict_features(bundle, features).rename(columns={
        "prediction": PREDICTION,
        **{f"proba_{label}": probability_column(label) for label in metadata.classes}})
    frame = pd.concat([features.reset_index(drop=True), predicted.reset_index(drop=True)],
                      axis=1)
    if metadata.target in new.columns:
        frame[TARGET] = new[metadata.target].to_numpy()
    columns = [name for name in (settings.drift.columns or list(profile.columns))
               if name in frame.columns]
    metrics = list(settings.performance.metrics or profile.scores or metadata.metrics.test)
    return judge_chunk(f"{len(new)} new rows", None, None, frame, profile=profile,
                       sample=reference.sample, settings=settings, columns=columns,
                       task=metadata.task, classes=metadata.classes, metrics=metrics,
                       seed=profile.seed, schema_warnings=schema_warnings(bundle, frame))
