"""What one suite experiment measured; a baseline stores the same record per experiment."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from engine.deploy.batch_predict import predict_rows
from engine.deploy.bundle import load_bundle
from engine.tracking.records import read_finished_run, read_metrics
from engine.tracking.timing import call_ms


@dataclass(frozen=True)
class Measurement:
    """Scores, fold scores, test predictions and timing samples of one experiment.

    ``cv`` holds each scorer's fold scores, ``test`` the held-out scores, ``predictions`` the
    columns of predictions.csv (for paired tests against a later run), ``timing`` the repeated
    samples of ``fit_seconds`` and ``predict_ms``. A failed experiment has ``error`` and no scores.
    """

    name: str
    overrides: list[str]
    error: str | None = None
    task: str | None = None
    primary: str | None = None
    fingerprint: str | None = None
    split: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    classes: list[Any] = field(default_factory=list)
    cv: dict[str, list[float]] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    predictions: dict[str, list[Any]] = field(default_factory=dict)
    timing: dict[str, list[float]] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Measurement:
        return cls(**record)


def read_measurement(name: str, overrides: list[str], run_dir: Path, features: pd.DataFrame,
                     predict_repeats: int) -> Measurement:
    """The measurement of a finished run directory; the first of the dataset's ``features`` rows
    times single-row predictions."""
    metrics, record = read_metrics(run_dir), read_finished_run(run_dir, "regress")
    saved = run_dir / "predictions.csv"  # absent without a test split
    predictions = pd.read_csv(saved) if saved.is_file() else pd.DataFrame()
    timing = record.timing
    # A score the run could not compute (null) is left out: its guard reports it missing.
    folds = {scorer: [f for f in scores.folds if f is not None]
             for scorer, scores in metrics.cv.items()}
    return Measurement(
        name=name, overrides=overrides, task=metrics.task, primary=metrics.primary,
        fingerprint=record.dataset.fingerprint, split=record.split, seed=record.seed,
        classes=list(metrics.classes),
        cv={scorer: kept for scorer, kept in folds.items()
            if len(kept) == len(metrics.cv[scorer].folds)},
        test={name: score for name, score in metrics.test.items() if score is not None},
        predictions={str(column): predictions[column].tolist() for column in predictions},
        timing={"fit_seconds": timing.fit_seconds_repeats or [timing.fit_seconds],
                "predict_ms": predict_latency_ms(run_dir, features.iloc[:1], predict_repeats)},
    )


def predict_latency_ms(run_dir: Path, row: pd.DataFrame, repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` single-row predictions through the saved bundle,
    schema checks included (as ``predict`` and serving run them), after one warm-up call."""
    bundle = load_bundle(run_dir)
    return call_ms(lambda: predict_rows(bundle, row), repeats)
