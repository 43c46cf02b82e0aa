"""Two models scored on the same fresh labelled rows: the promotion gate's engine, and
``python -m engine compare A B --on ROWS``.

Unlike :mod:`engine.evaluation.run_comparison`, which reads two runs' saved test predictions and
so needs runs of the same data and split, this predicts both bundles on rows given now: the
models may come from different data (a champion and a challenger retrained on a newer window).
Both are scored with the same scikit-learn scorer on the same seeded bootstrap resamples; for
classifiers McNemar's test compares which rows each gets right.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import get_scorer, get_scorer_names

from engine.config.schema.metrics import (
    DEFAULT_SCORERS,
    FairnessConfig,
    FairnessLimit,
    SlicesConfig,
)
from engine.deploy.batch_predict import apply_reading, check_rows
from engine.deploy.bundle import Bundle
from engine.errors import ConfigError, DataError, did_you_mean, first_line
from engine.evaluation.bootstrap import RESAMPLE_CELLS, metric_statistic, resample_counts
from engine.evaluation.fairness import failed_measures, fairness_record
from engine.evaluation.metrics import BINARY_ONLY_SCORERS, missing_method
from engine.evaluation.paired_tests import PairedResult, mcnemar_test, paired_bootstrap
from engine.evaluation.responses import Responses
from engine.tracking.files import read_json

EVALUATION_FILE = "evaluation.json"
SHORT_NAMES = {"rmse": "neg_root_mean_squared_error", "mse": "neg_mean_squared_error",
               "mae": "neg_mean_absolute_error"}
"""Losses by their usual short names, and the scorers that give them."""


@dataclass(frozen=True)
class FreshComparison:
    """Two models' scores on the same rows, the difference and whether the second is better.

    Scores are the scorer's values, greater always better (a loss is negated, as scikit-learn's
    ``neg_`` scorers and metrics.json give it), so ``difference = second - first > 0`` means the
    second is better. ``tests`` state each paired test as :class:`PairedResult` does (first
    minus second, two-sided p-value); ``p_value`` is the one-sided bootstrap p-value of "the
    second beats the first by more than ``margin``".
    """

    metric: str
    rows: int
    first: float
    second: float
    difference: float
    interval: tuple[float, float]
    p_value: float
    alpha: float
    margin: float
    tests: list[PairedResult]
    better: bool

    @property
    def verdict(self) -> str:
        """One line, e.g. ``B is better than A by 0.031 (p = 0.002)``."""
        low, high = self.interval
        if self.better:
            return f"B is better than A by {self.difference:.3g} (p = {self.p_value:.3g})"
        if high < 0:
            return (f"B is worse than A by {-self.difference:.3g} ({1 - self.alpha:.0%} "
                    f"interval of B - A: [{low:+.3g}, {high:+.3g}])")
        if self.margin:
            return (f"B is not better than A by more than {self.margin:g} (B - A = "
                    f"{self.difference:+.3g}, p = {self.p_value:.3g})")
        return f"no significant difference (B - A = {self.difference:+.3g}, p = {self.p_value:.3g})"


def score_side_by_side(first: Bundle, second: Bundle, rows: pd.DataFrame, target: pd.Series, *,
                       metric: str | None = None, alpha: float = 0.05, margin: float = 0.0,
                       resamples: int = 2000, seed: int = 0) -> FreshComparison:
    """Score both bundles on ``rows`` against ``target`` (the labels of the same rows).

    ``metric`` is a scikit-learn scorer name (default: the primary metric of the first bundle's
    run); ``margin`` is in its units. ``better`` holds when the one-sided p-value is below
    ``alpha`` and the difference exceeds ``margin``.
    """
    check_settings(alpha, margin, resamples)
    task, classes = _same_task(first, second)
    metric = metric or first.metadata.primary
    check_gate_metric(metric, task, key="compare --metric")
    for label, bundle in (("A", first), ("B", second)):
        method = missing_method(metric, bundle.pipeline)
        if method is not None:
            raise ConfigError(f"compare --metric: '{metric}' needs {method}, which model {label} "
                              f"({bundle.directory}) lacks. Pick a metric of predicted labels, "
                              "e.g. accuracy.")
    y = _encoded_target(target, rows, classes)
    responses = [_responses(first, rows, "model A"), _responses(second, rows, "model B")]
    observed, draws = _scores(metric, y, responses, resamples=resamples, seed=seed)
    bootstrap = paired_bootstrap(draws[0], draws[1], observed[0] - observed[1], 1 - alpha)
    tests = [bootstrap]
    if task != "regression":
        right = [answered.get("predict")[1] == y for answered in responses]
        tests.append(mcnemar_test(right[0], right[1]))
    gains = draws[1] - draws[0]
    gains = gains[np.isfinite(gains)]
    p_value = float((np.sum(gains <= margin) + 1) / (len(gains) + 1))
    difference = observed[1] - observed[0]
    return FreshComparison(
        metric=metric, rows=len(y), first=observed[0], second=observed[1],
        difference=difference, interval=(0.0 - bootstrap.high, 0.0 - bootstrap.low),
        p_value=p_value, alpha=alpha, margin=margin, tests=tests,
        better=bool(p_value < alpha and difference > margin))


def _scores(metric: str, y: np.ndarray, responses: list[Responses], *, resamples: int,
            seed: int) -> tuple[list[float], list[np.ndarray]]:
    """Each model's score on all the rows, and on the same seeded bootstrap resamples (drawn in
    chunks of at most ``RESAMPLE_CELLS`` counts, as the run's intervals are)."""
    statistics = []
    for label, answered in zip(("A", "B"), responses, strict=True):
        try:
            statistics.append(metric_statistic(metric, y, answered))
        except (ValueError, TypeError) as error:
            raise DataError(f"compare: {metric} cannot score model {label}: "
                            f"{first_line(error)}. Use another metric.") from None
    rng = np.random.default_rng(seed)
    chunk = max(1, RESAMPLE_CELLS // len(y))
    parts: list[list[np.ndarray]] = [[], []]
    try:
        with warnings.catch_warnings():  # a resample of one class scores nan, left out below
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            observed = [float(statistic(np.ones((1, len(y))))[0]) for statistic in statistics]
            for start in range(0, resamples, chunk):
                counts = resample_counts(rng, len(y), min(chunk, resamples - start))
                for statistic, drawn in zip(statistics, parts, strict=True):
                    drawn.append(statistic(counts))
    except (ValueError, TypeError) as error:
        raise DataError(f"compare: {metric} cannot score these {len(y)} rows: "
                        f"{first_line(error)}. Use more rows or another metric.") from None
    if not all(np.isfinite(observed)):
        raise DataError(f"compare: {metric} is undefined on these {len(y)} rows"
                        f"{' (all of one class)' if np.unique(y).size < 2 else ''}. Use more "
                        "rows or another metric.")
    return observed, [np.concatenate(drawn) for drawn in parts]


def check_gate_metric(metric: str, task: str, *, key: str = "metric") -> None:
    """Refuse a scorer name that cannot score ``task``, naming the valid ones; ``key`` is
    where the name came from (``compare --metric``, ``lifecycle.gate.metric``)."""
    valid = task_scorers(task)
    if metric not in valid:
        named = SHORT_NAMES.get(metric, f"neg_{metric}")
        hint = (f" Did you mean '{named}'? (a loss is its negated scorer, greater is better)"
                if named in valid else did_you_mean(metric, valid))
        raise ConfigError(f"{key}: '{metric}' cannot score a {task} task.{hint} Scorers for "
                          f"{task}: {', '.join(valid)}.")


def task_scorers(task: str) -> list[str]:
    """The scikit-learn scorer names that score ``task``: the task's defaults first."""
    def suits(name: str) -> bool:
        module = get_scorer(name)._score_func.__module__
        if task == "regression":
            return module.endswith("_regression")
        return (module.endswith(("_classification", "_ranking"))
                and not name.endswith("_samples")  # multilabel only
                and not (task == "multiclass" and name in BINARY_ONLY_SCORERS))

    defaults = list(DEFAULT_SCORERS[task])
    return defaults + [name for name in get_scorer_names() if name not in defaults and suits(name)]


def check_settings(alpha: float, margin: float, resamples: int) -> None:
    """Refuse a significance level outside (0, 1), a negative margin or no resamples."""
    problems = [f"{rule}; got {value}" for rule, value, bad in (
        ("--alpha must be between 0 and 1", alpha, not 0 < alpha < 1),
        ("--margin must be at least 0", margin, not margin >= 0),
        ("--resamples must be at least 1", resamples, resamples < 1)) if bad]
    if problems:
        raise ConfigError(f"compare: {'; '.join(problems)}.")


def _same_task(first: Bundle, second: Bundle) -> tuple[str, list[str]]:
    """The task and class labels the two bundles share; two that differ are refused."""
    sides = [(bundle.metadata.task, [str(label) for label in bundle.metadata.classes])
             for bundle in (first, second)]
    if sides[0] != sides[1]:
        described = [f"{task}{' [' + ', '.join(classes) + ']' if classes else ''}"
                     for task, classes in sides]
        raise DataError(f"compare: model A ({first.directory}) predicts {described[0]} and "
                        f"model B ({second.directory}) {described[1]}; compare models of the same "
                        "task and classes.")
    return sides[0]


def _encoded_target(target: pd.Series, rows: pd.DataFrame, classes: list[str]) -> np.ndarray:
    """The labels as the scorers see them: class codes 0..K-1 in the models' order, or numbers."""
    name = target.name
    if len(target) != len(rows):
        raise DataError(f"compare: target '{name}' has {len(target)} values for {len(rows)} "
                        "rows; give one label per row.")
    unlabelled = int(target.isna().sum())
    if unlabelled:
        raise DataError(f"compare: target '{name}' is missing on {unlabelled} of {len(target)} "
                        "rows; keep only labelled rows.")
    if not classes:
        numbers = pd.to_numeric(target, errors="coerce")
        if numbers.isna().any():
            bad = target[numbers.isna()].astype(str).unique()[:3]
            raise DataError(f"compare: target '{name}' holds values that are not numbers "
                            f"({', '.join(map(repr, bad))}); a regression target must be.")
        return numbers.to_numpy(float)
    if pd.api.types.is_float_dtype(target) and (target % 1 == 0).all():
        target = target.astype("int64")  # 1.0 is class 1
    codes = target.astype(str).map({label: code for code, label in enumerate(classes)})
    unknown = target[codes.isna()].astype(str).unique()
    if len(unknown):
        raise DataError(f"compare: target '{name}' holds {', '.join(map(repr, unknown[:3]))}, "
                        f"which the models never learned; their classes: {', '.join(classes)}.")
    return codes.to_numpy(int)


def _responses(bundle: Bundle, rows: pd.DataFrame, label: str) -> Responses:
    """The bundle's model on ``rows``, read and conformed as its ``predict`` reads them."""
    expected = [column["name"] for column in bundle.schema["columns"]]
    missing = [name for name in expected if name not in rows.columns]
    if missing:
        raise DataError(
            f"compare: the rows lack column(s) {', '.join(map(repr, missing))} that {label} "
            f"({bundle.directory}) takes.{did_you_mean(missing[0], map(str, rows.columns))}"
            " Give rows with every input column of both models.")
    features, _ = check_rows(bundle, apply_reading(rows, bundle.metadata.reading))
    pipeline = bundle.pipeline
    return Responses(pipeline[-1], pipeline[:-1].transform(features))


def fairness_failures(bundle: Bundle, rows: pd.DataFrame, target: pd.Series) -> list[str]:
    """The ``metrics.fairness`` limits the bundle's run declared that its model fails on these
    rows, one ``grouping: measure = value (above limit)`` each; [] when none are declared.

    The run's evaluation.json records the sensitive columns and, for a binary task, each
    measure's limits; they are measured here as the run measured them on its test rows.
    """
    declared = _declared_fairness(bundle)
    if declared is None:
        return []
    missing = [column for column in declared.sensitive if column not in rows.columns]
    if missing:
        raise DataError(f"fairness: the rows lack the sensitive column(s) "
                        f"{', '.join(map(repr, missing))} that model {bundle.directory}'s run "
                        "declared in metrics.fairness.sensitive; give rows with them.")
    classes = [str(label) for label in bundle.metadata.classes]
    y = _encoded_target(target, rows, classes)
    _, predicted = _responses(bundle, rows, "the model").get("predict")
    record = fairness_record(rows.reset_index(drop=True), y, predicted, bundle.metadata.task,
                             declared, bins=SlicesConfig().bins)
    return failed_measures(record, "fail")


def _declared_fairness(bundle: Bundle) -> FairnessConfig | None:
    """The fairness settings the run's evaluation.json records, or None without any limit."""
    path = bundle.directory.parent / EVALUATION_FILE
    recorded = (read_json(path) if path.is_file() else {}).get("fairness") or {}
    limits: dict[str, FairnessLimit | None] = {}
    for grouping in recorded.get("groupings", []):
        for measure, result in grouping.get("measures", {}).items():
            limits[measure] = FairnessLimit.model_validate(result["limits"]) \
                if result.get("limits") else None
    if not any(limit is not None and limit.fail is not None for limit in limits.values()):
        return None
    return FairnessConfig.model_validate({"sensitive": recorded["sensitive"], "limits": limits})
