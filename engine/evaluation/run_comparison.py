"""``engine compare RUN_A RUN_B``: is one run's model really better than the other's?

Both runs must share the data (fingerprint), the held-out rows and the CV folds (split settings
and seed); otherwise the comparison is refused with the reason. On the CV folds: the corrected
resampled t-test. On the test rows: a paired bootstrap of the metric (both models on the same
resamples) and, for classifiers, McNemar's test on which rows each gets right.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import DataError, did_you_mean
from engine.evaluation.bootstrap import metric_statistic, resample_counts
from engine.evaluation.paired_tests import (
    PairedResult,
    corrected_resampled_t_test,
    mcnemar_test,
    paired_bootstrap,
)
from engine.evaluation.responses import Responses
from engine.tracking.files import damaged, read_csv
from engine.tracking.records import (
    METRICS_FILE,
    RUN_FILE,
    MetricsRecord,
    RunRecord,
    read_finished_run,
    read_metrics,
)

PREDICTION_COLUMNS = ("row", "y_true", "prediction")


@dataclass(frozen=True)
class StoredRun:
    """What a comparison reads from a run directory."""

    path: Path
    metrics: MetricsRecord
    record: RunRecord
    predictions: pd.DataFrame
    cv_folds: pd.DataFrame | None


@dataclass(frozen=True)
class Comparison:
    """The metric, both runs' values and the paired tests, with a verdict."""

    metric: str
    first: StoredRun
    second: StoredRun
    results: list[tuple[PairedResult, float | None, float | None]]
    verdict: str


def load_run(path: Path) -> StoredRun:
    """The records of a finished run; a directory that is not one is refused."""
    files = {name: path / name for name in (METRICS_FILE, RUN_FILE, "predictions.csv")}
    missing = [name for name, file in files.items() if not file.is_file()]
    if missing:
        raise DataError(f"compare: '{path}' is not a finished run directory (no "
                        f"{', '.join(missing)}). Pass directories such as outputs/runs/<time>.")
    cv_file = path / "cv_scores.csv"
    return StoredRun(
        path=path, metrics=read_metrics(path), record=read_finished_run(path, "compare"),
        predictions=_with_columns(files["predictions.csv"], PREDICTION_COLUMNS),
        cv_folds=read_csv(cv_file) if cv_file.is_file() else None,
    )


def _with_columns(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """The CSV file at ``path``, refused when it lacks one of ``columns``."""
    frame = read_csv(path)
    missing = [column for column in columns if column not in frame]
    if missing:
        raise damaged(path, f"has no column {', '.join(map(repr, missing))} (its columns: "
                            f"{', '.join(map(str, frame.columns))})")
    return frame


def check_comparable(first: StoredRun, second: StoredRun, metric: str) -> None:
    """Refuse runs that do not share data, test rows and folds, saying which differs."""
    reasons = []
    fingerprints = [run.record.dataset.fingerprint for run in (first, second)]
    if fingerprints[0] != fingerprints[1]:
        reasons.append(f"they were trained on different data (fingerprints "
                       f"{fingerprints[0]} and {fingerprints[1]})")
    elif first.record.split != second.record.split or first.record.seed != second.record.seed:
        reasons.append("their splits differ (split settings or seed), so their CV folds and "
                       "test rows are not the same")
    elif not first.predictions["row"].equals(second.predictions["row"]):
        reasons.append("their held-out test rows differ")
    if reasons:
        raise DataError(f"compare: {first.path} and {second.path} cannot be compared: "
                        f"{'; '.join(reasons)}. Compare runs of the same dataset, split and seed.")
    for run in (first, second):
        if metric not in run.metrics.test:
            raise DataError(
                f"compare --metric: run {run.path} has no '{metric}'."
                f"{did_you_mean(metric, run.metrics.test)} It has: "
                f"{', '.join(run.metrics.test)}.")


def compare_runs(first_path: Path, second_path: Path, *, metric: str | None = None,
                 alpha: float = 0.05, resamples: int = 2000, seed: int = 0) -> Comparison:
    """Every paired test that the two runs' records allow, and the verdict."""
    first, second = load_run(first_path), load_run(second_path)
    metric = metric or first.metrics.primary
    check_comparable(first, second, metric)
    results: list[tuple[PairedResult, float | None, float | None]] = []
    if first.cv_folds is not None and second.cv_folds is not None and \
            metric in first.cv_folds and metric in second.cv_folds:
        ratio = fold_size_ratio(first.record.split)
        _check_same_folds(first, second)
        results.append((corrected_resampled_t_test(first.cv_folds[metric],
                                                   second.cv_folds[metric], ratio, 1 - alpha),
                        float(first.cv_folds[metric].mean()),
                        float(second.cv_folds[metric].mean())))
    classes = first.metrics.classes
    (y, first_responses), (_, second_responses) = (stored_responses(first.predictions, classes),
                                                   stored_responses(second.predictions, classes))
    scores = _test_score(first, metric), _test_score(second, metric)
    results.append((bootstrap_difference(metric, y, first_responses, second_responses,
                                         scores[0] - scores[1], confidence=1 - alpha,
                                         resamples=resamples, seed=seed), *scores))
    if first.metrics.task != "regression":
        right = [run.predictions["prediction"].astype(str) == run.predictions["y_true"].astype(str)
                 for run in (first, second)]
        results.append((mcnemar_test(right[0].to_numpy(), right[1].to_numpy()),
                        float(right[0].mean()), float(right[1].mean())))
    return Comparison(metric, first, second, results, _verdict(metric, results[0][0], alpha))


def _check_same_folds(first: StoredRun, second: StoredRun) -> None:
    """Both runs' cv_scores.csv hold a row per fold of the same split, so as many rows."""
    counts = [len(run.cv_folds) if run.cv_folds is not None else 0 for run in (first, second)]
    if counts[0] != counts[1]:
        raise DataError(f"compare: {first.path}/cv_scores.csv has {counts[0]} folds and "
                        f"{second.path}/cv_scores.csv {counts[1]}, though both runs share their "
                        "split; one file was changed after its run wrote it. Re-run that "
                        "experiment to write it again.")


def fold_size_ratio(split: dict[str, Any]) -> float:
    """``n_test / n_train`` of one CV fold: ``1 / (k - 1)`` for k folds."""
    folds = int((split.get("cv") or {}).get("n_splits", 5))
    return 1 / max(folds - 1, 1)


def bootstrap_difference(metric: str, y: np.ndarray, first: Responses, second: Responses,
                         observed: float, *, confidence: float, resamples: int,
                         seed: int) -> PairedResult:
    """The paired bootstrap of ``metric``'s difference between two models' responses to the
    same test rows: both are scored on the same seeded resamples."""
    counts = resample_counts(np.random.default_rng(seed), len(y), resamples)
    return paired_bootstrap(metric_statistic(metric, y, first)(counts),
                            metric_statistic(metric, y, second)(counts), observed, confidence)


def stored_responses(frame: pd.DataFrame, classes: list[Any]) -> tuple[np.ndarray, Responses]:
    """The true values and a run's saved test predictions (predictions.csv's columns),
    answering as its model did (class labels encoded 0..K-1 in the run's order, as the
    scorers saw them)."""
    labels = [str(label) for label in classes]
    if not labels:
        return frame["y_true"].to_numpy(float), Responses(
            SimpleNamespace(), None, {"predict": frame["prediction"].to_numpy(float)})
    given = {"predict": _encode(frame["prediction"], labels)}
    proba = [f"proba_{label}" for label in labels]
    if all(column in frame for column in proba):
        given["predict_proba"] = frame[proba].to_numpy(float)
    model = SimpleNamespace(classes_=np.arange(len(labels)))
    return _encode(frame["y_true"], labels), Responses(model, None, given)


def _test_score(run: StoredRun, metric: str) -> float:
    score = run.metrics.test[metric]
    if score is None:
        raise DataError(f"compare --metric: run {run.path} could not compute its test {metric} "
                        "(null in metrics.json); compare another metric.")
    return score


def _encode(values: pd.Series, labels: list[str]) -> np.ndarray:
    index = {label: code for code, label in enumerate(labels)}
    return values.astype(str).map(index).to_numpy(int)


def _verdict(metric: str, result: PairedResult, alpha: float) -> str:
    where = "in CV" if result.test.startswith("corrected") else "on the test rows"
    if result.p_value >= alpha:
        return (f"the difference in {metric} {where} is not significant "
                f"(p = {result.p_value:.3g} >= {alpha}, {result.test})")
    better = "the first run" if result.difference > 0 else "the second run"
    return (f"{better} is better on {metric} {where}: difference {result.difference:+.4f} "
            f"(p = {result.p_value:.3g} < {alpha}, {result.test})")
