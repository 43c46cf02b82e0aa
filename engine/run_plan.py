"""The run plan: what the checks that need the data settle, once, for every stage to read.

The schema has checked everything that needs no data. Once the data is loaded, ``make_plan``
encodes the target, builds the Pipeline, resolves the scorers, splits the rows and makes the CV
folds, checking each against the data as it goes; the stages then read the plan and never
split or resolve again (a search that picks another model family checks its threshold anew).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from engine.config.schema.metrics import MetricsConfig
from engine.config.spec import ExperimentSpec
from engine.data.dataset import Dataset
from engine.data.splits import make_cv, split_holdout
from engine.data.target_encoding import encode_target
from engine.deploy.exports import check_export_columns
from engine.errors import ConfigError
from engine.evaluation.decision_threshold import check_costs, check_threshold_task
from engine.evaluation.metrics import MetricSet, resolve_metrics
from engine.evaluation.slices import check_columns
from engine.models.pipeline import build_pipeline, check_features_suit_model

if TYPE_CHECKING:
    from engine.data.splits import Splitter


@dataclass(frozen=True)
class RunPlan:
    """One experiment's data, target, Pipeline, scorers, rows and folds, checked together."""

    spec: ExperimentSpec
    data: Dataset
    y: np.ndarray
    classes: list[Any]
    pipeline: Pipeline
    metrics: MetricSet
    train_idx: np.ndarray
    test_idx: np.ndarray
    cv: Splitter | None
    groups: np.ndarray | None

    @property
    def X_train(self) -> pd.DataFrame:
        return self.data.X.iloc[self.train_idx]

    @property
    def y_train(self) -> np.ndarray:
        return self.y[self.train_idx]

    @property
    def train_cells(self) -> int:
        """Training rows x columns: the fit's size for the thread budget (engine.threads)."""
        return len(self.train_idx) * self.data.X.shape[1]

    @cached_property
    def folds(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The CV folds as (fit rows, validation rows) of the training rows, made once."""
        if self.cv is None:
            return []
        return list(self.cv.split(self.X_train, self.y_train, self.groups))

    def has_probabilities(self, pipeline: Pipeline | None = None) -> bool:
        """Whether the model (or the family a search picked) gives class probabilities, as
        calibration does for any classifier."""
        return hasattr(pipeline or self.pipeline, "predict_proba") or \
            self.spec.metrics.calibration != "none"


def make_plan(spec: ExperimentSpec, data: Dataset) -> RunPlan:
    """Every check that needs the data, in the order a user would fix them."""
    y, classes = encode_target(data.y, data.task, spec.dataset.positive_class)
    settings = spec.metrics
    check_calibration_task(settings, data.task)
    if settings.threshold == "cost" and data.task == "binary":
        check_costs(settings.costs or {}, classes)
    columns = list(data.X.columns)
    pipeline = build_pipeline(spec, data.task, columns)
    metrics = resolve_metrics(spec.metrics, data.task,
                              has_probabilities=hasattr(pipeline, "predict_proba"))
    check_columns("metrics.slices.columns", settings.slices.columns, columns)
    check_columns("metrics.fairness.sensitive", settings.fairness.sensitive, columns)
    train_idx, test_idx = split_holdout(data, spec.split, seed=spec.seed)
    cv, groups = make_cv(data, spec.split, seed=spec.seed, train_idx=train_idx)
    plan = RunPlan(spec=spec, data=data, y=y, classes=classes, pipeline=pipeline,
                   metrics=metrics, train_idx=train_idx, test_idx=test_idx, cv=cv, groups=groups)
    if settings.threshold:
        check_threshold_task(settings.threshold, data.task, plan.has_probabilities())
    check_features_suit_model(pipeline, plan.X_train, plan.y_train)
    check_export_columns(spec, data.X)
    return plan


def check_calibration_task(metrics: MetricsConfig, task: str) -> None:
    """Calibration maps class probabilities: it needs a task with classes (the schema has
    checked that the CV folds partition the training rows, as its out-of-fold fit needs)."""
    if metrics.calibration != "none" and task == "regression":
        raise ConfigError(f"metrics.calibration={metrics.calibration}: calibration maps class "
                          "probabilities and this target is regression. Use "
                          "metrics.calibration=none.")
