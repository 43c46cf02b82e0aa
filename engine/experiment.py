"""One experiment, end to end: validate, load, check, split, cross-validate, fit, evaluate, save.

Each stage is a plain function of the spec and the previous stage's result; only this module
strings them together, and only the CLI touches Hydra.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline

from engine.config.schema import SplitConfig, TuneSettings
from engine.config.spec import ExperimentSpec
from engine.data.dataset import Dataset
from engine.data.quality import check_quality
from engine.data.sources import load_dataset
from engine.data.splits import make_cv, seeded_sample, split_holdout
from engine.data.target_encoding import encode_target
from engine.deploy.batch_predict import prediction_columns
from engine.deploy.bundle import BUNDLE_DIR, save_bundle
from engine.deploy.delivery import deliver
from engine.deploy.exports import check_export_targets, export_model
from engine.deploy.schema import infer_schema
from engine.errors import ConfigError, EvaluationError
from engine.evaluation.bootstrap import BootstrapSettings, bootstrap_settings, holdout_intervals
from engine.evaluation.decision_threshold import check_costs, check_threshold_task
from engine.evaluation.fairness import failed_measures
from engine.evaluation.final_fit import fit_final_model
from engine.evaluation.holdout_evaluation import evaluate_holdout
from engine.evaluation.metrics import MetricSet, resolve_metrics
from engine.evaluation.overfitting import OVERFITTING_ROWS, overfitting_record
from engine.evaluation.responses import Responses
from engine.evaluation.scoring import cross_validate_pipeline, score_holdout, score_responses
from engine.evaluation.settings import EvaluationSettings, evaluation_settings
from engine.evaluation.slices import check_columns
from engine.features.preprocessor import build_preprocessor, text_columns
from engine.models.estimators import build_estimator, model_classes, validate_model
from engine.models.pipeline import build_pipeline, check_features_suit_model
from engine.reporting.run_report import write_run_report
from engine.tracking.files import write_json
from engine.tracking.provenance import git_state, package_versions
from engine.tracking.records import (
    METRICS_FILE,
    RUN_FILE,
    BundleMetadata,
    MetricsRecord,
    RunRecord,
    write_record,
)
from engine.tracking.summary import print_summary
from engine.tracking.warning_log import collected_warnings, summarize_warnings
from engine.tuning.pipeline_space import space_for
from engine.tuning.search import SearchResult, run_search
from engine.tuning.storage import storage_location
from engine.tuning.workers import quiet_optuna

UNPARTITIONED = ("none", "timeseries", "repeated", "repeated_kfold", "repeated_stratified")


@dataclass(frozen=True)
class RunResult:
    """What a finished run reports: its primary metric and the value sweeps optimise."""

    run_dir: Path
    primary: str
    objective: float
    metrics: dict[str, Any]


def validate_spec(spec: ExperimentSpec) -> None:
    """The checks beyond the schema's that need no data: classes and parameters bound against
    their signatures, the search space, the scorers of a declared task, the export targets.

    A sweep runs this on every job before the first one starts.
    """
    validate_model(spec.model, spec.allowed_targets)
    preprocessor = build_preprocessor(spec.features.model_dump(), allowed=spec.allowed_targets)
    task = spec.dataset.task
    if task != "auto":
        resolve_metrics(spec.metrics, task)
    settings = spec.tune
    if settings.searching:
        storage_location(settings.storage, settings.study_name or "check",
                         Path(settings.studies_dir))
        for candidate in spec.candidates.values():
            validate_model(candidate, spec.allowed_targets)
        space_for(spec, task if task != "auto" else "binary", spec.candidates, None)
    evaluation = evaluation_settings(spec.metrics)
    if evaluation.threshold and task not in ("auto", "binary"):
        check_threshold_task(evaluation.threshold, task, has_probabilities=True)
    check_out_of_fold_settings(evaluation, spec.split, task)
    wrappers = [(key, cls) for key, cls, used in (
        ("metrics.calibration", CalibratedClassifierCV, evaluation.calibration != "none"),
        ("metrics.threshold", FixedThresholdClassifier, bool(evaluation.threshold))) if used]
    for model in (spec.model, *spec.candidates.values()):
        check_export_targets(spec.deploy.targets,
                             model_classes(model, spec.allowed_targets).values(),
                             model.name, preprocessor=preprocessor, wrappers=wrappers,
                             quantize=spec.deploy.quantize)


def run_experiment(
    spec: ExperimentSpec, run_dir: Path, *, project_dir: Path, console: Console,
    data: Dataset | None = None, fit_repeats: int = 1,
) -> RunResult:
    """Run ``spec`` and write everything it learned into ``run_dir``.

    ``data`` is the dataset when the caller has loaded it already (a regression suite loads each
    once); ``fit_repeats`` fits the final model that many times and records each fit's seconds
    (their median is ``fit_seconds``), so timing guards are not at the mercy of one noisy fit.
    """
    started = time.perf_counter()
    validate_spec(spec)
    data = load_and_check(spec, run_dir, console, data)
    y, classes = encode_target(data.y, data.task, spec.dataset.positive_class)
    evaluation = evaluation_settings(spec.metrics)
    check_out_of_fold_settings(evaluation, spec.split, data.task)
    if evaluation.threshold == "cost" and data.task == "binary":
        check_costs(evaluation.costs, classes)
    pipeline = build_pipeline(spec, data.task, list(data.X.columns))
    metrics = resolve_metrics(
        spec.metrics, data.task, has_probabilities=hasattr(pipeline, "predict_proba")
    )
    check_evaluation_columns(evaluation, list(data.X.columns))
    if evaluation.threshold:
        check_threshold_task(evaluation.threshold, data.task,  # calibration gives them too
                             has_probabilities=hasattr(pipeline, "predict_proba")
                             or evaluation.calibration != "none")
    train_idx, test_idx = split_holdout(data, spec.split, seed=spec.seed)
    if not len(test_idx) and (evaluation.slice_columns or evaluation.fairness.sensitive):
        raise ConfigError("metrics.slices / metrics.fairness: they are measured on the test rows, "
                          "but split.test_size is 0. Give the split a test share (e.g. 0.2).")
    check_features_suit_model(pipeline, data.X.iloc[train_idx], y[train_idx])
    timing = {"prepare_seconds": time.perf_counter() - started}

    settings = spec.tune
    bootstrap = bootstrap_settings(spec.metrics, spec.seed)
    if settings.searching:
        quiet_optuna()  # before the warnings are collected, so it outlasts that block
    tuning: dict[str, Any] = {}
    model_name = spec.model.name
    with collected_warnings() as caught:
        mark = time.perf_counter()
        if settings.searching:
            search = tune_stage(spec, settings, data, y, train_idx, pipeline, metrics, run_dir,
                                console)
            pipeline.set_params(**search.pipeline_params)
            if evaluation.threshold:  # the search may have picked a family without them
                check_threshold_task(evaluation.threshold, data.task,
                                     has_probabilities=hasattr(pipeline, "predict_proba")
                                     or evaluation.calibration != "none")
            cv_summary = search.cv
            model_name = search.record["best_params"].get("model", model_name)
            folds = pd.DataFrame({name: scores["folds"] for name, scores in cv_summary.items()})
            folds.rename_axis("fold").to_csv(run_dir / "cv_scores.csv")
            timing["tune_seconds"] = time.perf_counter() - mark
        else:
            cv_summary = cross_validate_stage(spec, data, y, train_idx, pipeline, metrics,
                                              run_dir, console)
            timing["cv_seconds"] = time.perf_counter() - mark
        cv, groups = make_cv(data, spec.split, seed=spec.seed, train_idx=train_idx)
        fits = []
        for _ in range(fit_repeats):
            mark = time.perf_counter()
            fitted, decision = fit_final_model(
                pipeline, data.X.iloc[train_idx], y[train_idx], settings=evaluation,
                classes=classes, cv=cv, groups=groups, seed=spec.seed)
            fits.append(time.perf_counter() - mark)
        timing["fit_seconds"] = float(np.median(fits))
        if fit_repeats > 1:
            timing["fit_seconds_repeats"] = fits
        mark = time.perf_counter()
        test_scores, intervals, evaluated = test_stage(
            fitted, data, y, classes, test_idx, metrics, bootstrap, evaluation, run_dir)
        timing["evaluate_seconds"] = time.perf_counter() - mark
        scored = train_idx[seeded_sample(len(train_idx), OVERFITTING_ROWS, spec.seed,
                                         strata=y[train_idx] if classes else None)]
        overfitting = overfitting_record(
            metrics.primary,
            score_holdout(fitted, data.X.iloc[scored], y[scored],
                          MetricSet(metrics.primary, (metrics.primary,)))[metrics.primary],
            cv_summary[metrics.primary]["mean"] if cv_summary else None,
            test_scores.get(metrics.primary), spec.metrics.overfitting.max_gap,
            train_rows=len(scored))
        if settings.searching:
            tuning = search.finish()  # the plots' warnings land in run.json too

    objective = _objective(metrics, cv_summary, test_scores)
    metrics_record = {
        "task": data.task,
        "primary": metrics.primary,
        "objective": objective,
        "objective_source": "cv_mean" if cv_summary else "test",
        "cv": cv_summary,
        "test": test_scores,
        "test_intervals": intervals,
        "bootstrap": {"method": "percentile", **asdict(bootstrap)},
        "overfitting": overfitting,
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "classes": classes,
    }
    if tuning:
        metrics_record["tuning"] = tuning
    if decision:
        metrics_record["decision"] = decision
    stored_metrics = MetricsRecord.model_validate(metrics_record)
    write_record(run_dir / METRICS_FILE, stored_metrics)
    write_json(run_dir / "evaluation.json", evaluated)
    provenance = {"packages": package_versions(), "git": git_state(project_dir)}
    schema = infer_schema(data.X, text_columns=text_columns(spec.features.model_dump()))
    save_bundle(
        run_dir / BUNDLE_DIR,
        fitted,
        schema,
        BundleMetadata.model_validate({
            "task": data.task,
            "target": str(data.y.name),
            "classes": classes,
            "model": model_name,
            "primary": metrics.primary,
            "metrics": {"cv": cv_summary, "test": test_scores},
            "seed": spec.seed,
            "data_fingerprint": data.fingerprint,
            "reading": {key: getattr(spec.dataset, key, None)
                        for key in ("na_values", "read_options", "dtypes")},
            **provenance,
        }),
    )
    held_out = test_idx if len(test_idx) else train_idx
    exports = export_model(fitted, data.X.iloc[held_out], y[held_out], schema, spec.deploy,
                           run_dir)
    delivered = deliver(run_dir, spec.deploy, default_name=f"{data.name}-{model_name}")
    timing["total_seconds"] = time.perf_counter() - started
    record = {
        "status": "ok",
        "run_dir": str(run_dir),
        "choices": spec.choices,
        "model": model_name,
        "seed": spec.seed,
        "split": spec.split.model_dump(),
        "dataset": _dataset_record(data),
        "primary": metrics.primary,
        "objective": objective,
        "timing": timing,
        "warnings": summarize_warnings(caught),
        **({"exports": exports} if exports else {}),
        **({"deploy": delivered} if delivered else {}),
        **provenance,
    }
    failed = failed_measures(evaluated.get("fairness", {}), "fail")
    if failed:
        record["status"] = "failed"
        record["error"] = ("metrics.fairness.limits: the model fails " + "; ".join(failed)
                           + f". Everything is written to {run_dir}; see evaluation.json for "
                           "the metrics by group.")
    stored_run = RunRecord.model_validate(record)
    write_record(run_dir / RUN_FILE, stored_run)
    print_summary(console, stored_run, stored_metrics, evaluated)
    if spec.report:
        report_stage(run_dir, console)
    if failed:
        raise EvaluationError(record["error"])
    return RunResult(run_dir, metrics.primary, objective, metrics_record)


def report_stage(run_dir: Path, console: Console) -> None:
    """Write report.html; a report that cannot be drawn is a warning, the run stays done."""
    try:
        console.print(f"report: {write_run_report(run_dir)}")
    except Exception as error:  # the run's results are already on disk
        console.print(f"[yellow]warning[/yellow]: report.html not written: {error!r}")


def check_out_of_fold_settings(settings: EvaluationSettings, split: SplitConfig,
                               task: str) -> None:
    """Calibration and a tuned threshold learn from out-of-fold predictions: they need a task
    with classes and CV folds that partition the training rows."""
    if settings.calibration != "none" and task == "regression":
        raise ConfigError(f"metrics.calibration={settings.calibration}: calibration maps class "
                          "probabilities and this target is regression. Use "
                          "metrics.calibration=none.")
    strategy = split.cv.strategy
    if (settings.threshold or settings.calibration != "none") and strategy in UNPARTITIONED:
        raise ConfigError(
            f"split.cv.strategy={strategy}: metrics.threshold and metrics.calibration learn from "
            "out-of-fold predictions, which need folds that cover each training row once "
            "(kfold, stratified, group, stratified_group or auto). Change the split or drop "
            "those options.")


def check_evaluation_columns(settings: EvaluationSettings, columns: list[str]) -> None:
    """The declared slice and sensitive columns must be columns of the data."""
    check_columns("metrics.slices.columns", settings.slice_columns, columns)
    check_columns("metrics.fairness.sensitive", settings.fairness.sensitive, columns)


def load_and_check(spec: ExperimentSpec, run_dir: Path, console: Console,
                   data: Dataset | None = None) -> Dataset:
    """Load the dataset (unless given), run the quality checks, write data_report.json; fail as
    configured."""
    data = data or load_dataset(spec.dataset, seed=spec.seed)
    console.print(
        f"[bold]{data.name}[/bold]: {len(data.X)} rows × {data.X.shape[1]} columns, "
        f"{data.task} task"
    )
    report = check_quality(data, spec.quality, seed=spec.seed)
    write_json(run_dir / "data_report.json", report.to_dict())
    _print_findings(console, report.findings)
    report.raise_for_failures(spec.quality.fail_on)
    return data


def cross_validate_stage(
    spec: ExperimentSpec,
    data: Dataset,
    y: np.ndarray,
    train_idx: np.ndarray,
    pipeline: Pipeline,
    metrics: MetricSet,
    run_dir: Path,
    console: Console,
) -> dict[str, Any]:
    """CV scores on the training rows (written to cv_scores.csv); empty when CV is off."""
    cv, groups = make_cv(data, spec.split, seed=spec.seed, train_idx=train_idx)
    if cv is None:
        return {}
    with console.status(f"cross-validating {spec.model.name} ({cv.get_n_splits()} folds)"):
        scores = cross_validate_pipeline(
            pipeline, data.X.iloc[train_idx], y[train_idx], cv=cv, groups=groups,
            metrics=metrics, n_jobs=spec.n_jobs,
        )
    scores.folds.to_csv(run_dir / "cv_scores.csv")
    return scores.summary()


def tune_stage(
    spec: ExperimentSpec,
    settings: TuneSettings,
    data: Dataset,
    y: np.ndarray,
    train_idx: np.ndarray,
    pipeline: Pipeline,
    metrics: MetricSet,
    run_dir: Path,
    console: Console,
) -> SearchResult:
    """The Optuna search over the Pipeline's space on the training rows' CV folds."""
    cv, groups = make_cv(data, spec.split, seed=spec.seed, train_idx=train_idx)
    for family in spec.candidates.values():
        build_estimator(family, data.task, spec.allowed_targets)  # one that cannot fit: exit 2
    X_train = data.X.iloc[train_idx]
    folds = list(cv.split(X_train, y[train_idx], groups))
    return run_search(
        spec, settings, X=X_train, y=y[train_idx], folds=folds, task=data.task,
        metrics=metrics, families=spec.candidates, run_dir=run_dir, console=console,
    )


def test_stage(
    fitted: Pipeline,
    data: Dataset,
    y: np.ndarray,
    classes: list[Any],
    test_idx: np.ndarray,
    metrics: MetricSet,
    bootstrap: BootstrapSettings,
    evaluation: EvaluationSettings,
    run_dir: Path,
) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, Any]]:
    """Held-out scores, their bootstrap intervals and the evaluation record; the test rows'
    predictions go to predictions.csv. Empty without a test split."""
    if not len(test_idx):
        return {}, {}, {}
    X_test = data.X.iloc[test_idx]
    # Transform the test rows once and run each prediction method once: the scores, their
    # intervals, the evaluation and the predictions file share the responses.
    responses = Responses(fitted[-1], fitted[:-1].transform(X_test))
    frame = pd.DataFrame({"row": X_test.index, "y_true": data.y.iloc[test_idx].to_numpy()})
    predictions = prediction_columns(responses, classes)
    pd.concat([frame, predictions], axis=1).to_csv(run_dir / "predictions.csv", index=False)
    scores = score_responses(responses, y[test_idx], metrics)
    intervals = (holdout_intervals(responses, y[test_idx], metrics.scorers, bootstrap)
                 if bootstrap.resamples else {})
    evaluated = evaluate_holdout(fitted, X_test, y[test_idx], responses, task=data.task,
                                 classes=classes, metrics=metrics, settings=evaluation,
                                 bootstrap=bootstrap)
    return scores, intervals, evaluated


def _objective(metrics: MetricSet, cv: dict[str, Any], test: dict[str, float]) -> float:
    if cv:
        return float(cv[metrics.primary]["mean"])
    return float(test.get(metrics.primary, np.nan))


def _dataset_record(data: Dataset) -> dict[str, Any]:
    return {
        "name": data.name,
        "rows": len(data.X),
        "columns": data.X.shape[1],
        "task": data.task,
        "target": str(data.y.name),
        "fingerprint": data.fingerprint,
    }


def _print_findings(console: Console, findings: list[Any]) -> None:
    counts = Counter(f.severity for f in findings)
    if not findings:
        console.print("data quality: no findings")
        return
    parts = ", ".join(f"{count} {severity}" for severity, count in sorted(counts.items()))
    console.print(f"data quality: {parts} (details in data_report.json)")
    for finding in [f for f in findings if f.severity != "info"][:5]:
        console.print(f"  [yellow]{finding.severity}[/yellow] {finding.check}: {finding.message}")
