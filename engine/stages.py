"""The stages of one experiment, each a plain function of the run plan and the stage before.

    load_and_check -> make_plan -> select (CV or search) -> fit -> evaluate -> overfitting
    -> metrics_record -> save (bundle with its reference profile, exports, deploy targets;
    provenance for run.json)

:func:`engine.experiment.run_experiment` strings them together in that order.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from sklearn.pipeline import Pipeline

from engine.budget import SAVE_SECONDS_PER_NODE, tree_nodes
from engine.card.writer import model_card
from engine.config.spec import ExperimentSpec
from engine.data.dataset import Dataset
from engine.data.quality import check_quality
from engine.data.sources import load_dataset
from engine.data.splits import seeded_sample
from engine.deploy.batch_predict import prediction_columns
from engine.deploy.bundle import BUNDLE_DIR, save_bundle
from engine.deploy.delivery import deliver
from engine.deploy.exports import export_model
from engine.deploy.input_schema import infer_schema
from engine.evaluation.bootstrap import holdout_intervals
from engine.evaluation.decision_threshold import check_threshold_task
from engine.evaluation.explain_budget import explain_within
from engine.evaluation.final_fit import fit_final_model
from engine.evaluation.holdout_evaluation import evaluate_holdout
from engine.evaluation.metrics import MetricSet
from engine.evaluation.overfitting import OVERFITTING_ROWS, overfitting_record
from engine.evaluation.responses import Responses
from engine.evaluation.scoring import cross_validate_pipeline, score_holdout, score_responses
from engine.features.preprocessor import text_columns
from engine.models.estimators import build_estimator
from engine.monitoring.profile import ScoredRows, build_reference, scored_rows
from engine.monitoring.profile_columns import column_profiles
from engine.run_plan import RunPlan
from engine.threads import threads_per_process, worker_processes, worker_threads
from engine.tracking.files import write_atomically, write_json
from engine.tracking.provenance import git_state, package_versions
from engine.tracking.records import BundleMetadata, MetricsRecord
from engine.tuning.ensemble_selection import choose_ensemble
from engine.tuning.search import run_search

IN_SAMPLE_ROWS = 10_000
"""Training rows the reference profile's predictions come from when the run has no test split:
in sample, they only describe the predictions' distribution, so a sample serves."""


class Clock:
    """Seconds per stage for run.json's ``timing``: each ``lap`` since the one before."""

    def __init__(self) -> None:
        self.started = self.mark = time.perf_counter()
        self.timing: dict[str, Any] = {}

    def lap(self, name: str, seconds: float | None = None) -> None:
        """Record the seconds since the last lap under ``name`` (or ``seconds``, measured by
        the stage itself)."""
        now = time.perf_counter()
        self.timing[name] = now - self.mark if seconds is None else seconds
        self.mark = now

    def total(self) -> dict[str, Any]:
        return {**self.timing, "total_seconds": time.perf_counter() - self.started}


@dataclass
class Selection:
    """The chosen Pipeline (the search's best, or the configured one) and its CV scores."""

    pipeline: Pipeline
    model_name: str
    cv: dict[str, Any]
    finish: Callable[[], dict[str, Any]] = field(default=dict)
    """Ends the search (its plots' warnings land in run.json); returns its record."""


@dataclass(frozen=True)
class Fitted:
    """The final Pipeline, fitted on the training rows, and what the fit decided."""

    pipeline: Pipeline
    decision: dict[str, Any]


@dataclass(frozen=True)
class HeldOut:
    """Scores on the test rows, their intervals, the evaluation record, and the test rows with
    the model's answers for the reference profile (None without a test split)."""

    scores: dict[str, float]
    intervals: dict[str, dict[str, float]]
    evaluated: dict[str, Any]
    scored: ScoredRows | None = None


def load_and_check(spec: ExperimentSpec, run_dir: Path, console: Console,
                   data: Dataset | None = None) -> Dataset:
    """Load the dataset (unless given), run the quality checks, write data_report.json (the
    findings, and each column's distribution as the reference profile bins it); fail as
    configured."""
    data = data or load_dataset(spec.dataset, seed=spec.seed)
    console.print(
        f"[bold]{data.name}[/bold]: {len(data.X)} rows × {data.X.shape[1]} columns, "
        f"{data.task} task"
    )
    texts = text_columns(spec.features)
    report = check_quality(data, spec.quality, seed=spec.seed, text_columns=texts)
    reference = spec.monitor.reference
    columns = column_profiles(data.X, text_columns=texts, bins=reference.bins,
                              max_categories=reference.max_categories)
    write_json(run_dir / "data_report.json", {
        **report.to_dict(), "columns": {name: profile.model_dump()
                                        for name, profile in columns.items()}})
    _print_findings(console, report.findings)
    report.raise_for_failures(spec.quality.fail_on)
    return data


def select(plan: RunPlan, run_dir: Path, console: Console) -> Selection:
    """The search's best Pipeline when tuning, else the configured one with its CV scores."""
    spec = plan.spec
    if not spec.tune.searching:
        return Selection(plan.pipeline, spec.model.name, cross_validate(plan, run_dir, console))
    for family in spec.candidates.values():
        build_estimator(family, plan.data.task, spec.allowed_targets)  # one that cannot fit
    search = run_search(spec, spec.tune, X=plan.X_train, y=plan.y_train, folds=plan.folds,
                        task=plan.data.task, metrics=plan.metrics, families=spec.candidates,
                        run_dir=run_dir, console=console)
    pipeline = plan.pipeline.set_params(**search.pipeline_params)
    model_name = search.record["best_params"].get("model", spec.model.name)
    cv, finish = search.cv, search.finish
    if spec.tune.ensemble.size:
        choice = choose_ensemble(spec, X=plan.X_train, y=plan.y_train, folds=plan.folds,
                                 task=plan.data.task, metrics=plan.metrics, search=search.record)
        console.print(choice.line)
        if choice.pipeline is not None and choice.cv is not None:
            pipeline, model_name, cv = choice.pipeline, "ensemble", choice.cv

        def finish() -> dict[str, Any]:
            return {**search.finish(), "ensemble": choice.record}
    if spec.metrics.threshold:  # the search may have picked a family without probabilities
        check_threshold_task(spec.metrics.threshold, plan.data.task,
                             plan.has_probabilities(pipeline))
    folds = pd.DataFrame({name: scores["folds"] for name, scores in cv.items()})
    write_atomically(run_dir / "cv_scores.csv", folds.rename_axis("fold").to_csv)
    return Selection(pipeline, model_name, cv, finish=finish)


def cross_validate(plan: RunPlan, run_dir: Path, console: Console) -> dict[str, Any]:
    """CV scores on the training rows (written to cv_scores.csv); empty when CV is off.

    ``n_jobs`` folds at a time (-1: one per available core), each worker with its share of the
    cores' threads."""
    if plan.cv is None:
        return {}
    workers = min(worker_processes(plan.spec.n_jobs), len(plan.folds))
    with (console.status(f"cross-validating {plan.spec.model.name} ({len(plan.folds)} folds)"),
          worker_threads(threads_per_process(workers, work=plan.train_cells))):
        scores = cross_validate_pipeline(
            plan.pipeline, plan.X_train, plan.y_train, cv=plan.folds, groups=None,
            metrics=plan.metrics, n_jobs=workers,
        )
    write_atomically(run_dir / "cv_scores.csv", scores.folds.to_csv)
    return scores.summary()


def fit(plan: RunPlan, selection: Selection, repeats: int = 1) -> tuple[Fitted, list[float]]:
    """The selected Pipeline fitted ``repeats`` times on the training rows (calibrated and
    thresholded as declared); the last fit, and each fit's seconds."""
    seconds = []
    for _ in range(repeats):
        mark = time.perf_counter()
        fitted, decision = fit_final_model(
            selection.pipeline, plan.X_train, plan.y_train, settings=plan.spec.metrics,
            classes=plan.classes, folds=plan.folds, seed=plan.spec.seed)
        seconds.append(time.perf_counter() - mark)
    return Fitted(fitted, decision), seconds


def evaluate(plan: RunPlan, fitted: Fitted, run_dir: Path) -> HeldOut:
    """Held-out scores, their bootstrap intervals and the evaluation record; the test rows'
    predictions go to predictions.csv. Empty without a test split."""
    if not len(plan.test_idx):
        return HeldOut({}, {}, {})
    X_test, y_test = plan.data.X.iloc[plan.test_idx], plan.y[plan.test_idx]
    pipeline = fitted.pipeline
    metrics = plan.metrics.answered_by(pipeline)  # a family a search picked may lack probabilities
    # Transform the test rows once and run each prediction method once: the scores, their
    # intervals, the evaluation and the predictions file share the responses.
    responses = Responses(pipeline[-1], pipeline[:-1].transform(X_test))
    frame = pd.DataFrame({"row": X_test.index,
                          "y_true": plan.data.y.iloc[plan.test_idx].to_numpy()})
    predictions = prediction_columns(responses, plan.classes)
    table = pd.concat([frame, predictions], axis=1)
    write_atomically(run_dir / "predictions.csv", lambda path: table.to_csv(path, index=False))
    settings, seed = plan.spec.metrics, plan.spec.seed
    intervals = (holdout_intervals(responses, y_test, metrics.scorers, settings.bootstrap,
                                   seed=seed) if settings.bootstrap.resamples else {})
    budget = plan.spec.budget
    left = None if budget is None else (budget.end - time.time() - budget.kept
                                        - tree_nodes(pipeline) * SAVE_SECONDS_PER_NODE)
    settings, cut = explain_within(settings, pipeline, X_test, left)
    if cut:
        warnings.warn(cut, UserWarning, stacklevel=2)
    evaluated = evaluate_holdout(pipeline, X_test, y_test, responses, task=plan.data.task,
                                 classes=plan.classes, metrics=metrics,
                                 settings=settings, seed=seed)
    scored = scored_rows(responses, X_test, frame["y_true"].to_numpy(), plan.classes,
                         out_of_sample=True)
    return HeldOut(score_responses(responses, y_test, metrics), intervals, evaluated, scored)


def overfitting(plan: RunPlan, selection: Selection, fitted: Fitted,
                held_out: HeldOut) -> dict[str, Any]:
    """The primary score on a seeded sample of training rows, beside CV's and the test's."""
    primary = plan.metrics.primary
    sample = seeded_sample(len(plan.train_idx), OVERFITTING_ROWS, plan.spec.seed,
                           strata=plan.y_train if plan.classes else None)
    rows = plan.train_idx[sample]
    train = score_holdout(fitted.pipeline, plan.data.X.iloc[rows], plan.y[rows],
                          MetricSet(primary, (primary,)))[primary]
    return overfitting_record(primary, train,
                              selection.cv[primary]["mean"] if selection.cv else None,
                              held_out.scores.get(primary), plan.spec.metrics.overfitting.max_gap,
                              train_rows=len(rows))


def metrics_record(plan: RunPlan, selection: Selection, fitted: Fitted, held_out: HeldOut,
                   overfit: dict[str, Any], tuning: dict[str, Any]) -> MetricsRecord:
    """metrics.json's content: the scores that decide, and how they were measured."""
    primary = plan.metrics.primary
    objective = (float(selection.cv[primary]["mean"]) if selection.cv
                 else float(held_out.scores.get(primary, np.nan)))
    return MetricsRecord.model_validate({
        "task": plan.data.task,
        "primary": primary,
        "objective": objective,
        "objective_source": "cv_mean" if selection.cv else "test",
        "cv": selection.cv,
        "test": held_out.scores,
        "test_intervals": held_out.intervals,
        "bootstrap": {"method": "percentile", **plan.spec.metrics.bootstrap.model_dump(),
                      "seed": plan.spec.seed},
        "overfitting": overfit,
        "n_train": len(plan.train_idx),
        "n_test": len(plan.test_idx),
        "classes": plan.classes,
        **({"tuning": tuning} if tuning else {}),
        **({"decision": fitted.decision} if fitted.decision else {}),
    })


def save(plan: RunPlan, selection: Selection, fitted: Fitted, held_out: HeldOut,
         run_dir: Path, project_dir: Path) -> dict[str, Any]:
    """The bundle (pipeline, schema, metadata with provenance), the exports and the deploy
    targets; what run.json records of them, provenance included."""
    spec, data = plan.spec, plan.data
    provenance = {"packages": package_versions(), "git": git_state(project_dir)}
    texts = text_columns(spec.features)
    schema = infer_schema(data.X, text_columns=texts)
    reference = build_reference(data.X, held_out.scored or _in_sample(plan, fitted),
                                task=data.task, text_columns=texts, scores=held_out.scores,
                                intervals=held_out.intervals, monitor=spec.monitor,
                                seed=spec.seed)
    metadata = BundleMetadata.model_validate({
        "task": data.task,
        "target": str(data.y.name),
        "classes": plan.classes,
        "model": selection.model_name,
        "primary": plan.metrics.primary,
        "metrics": {"cv": selection.cv, "test": held_out.scores},
        "seed": spec.seed,
        "data_fingerprint": data.fingerprint,
        "reading": {**{key: getattr(spec.dataset, key, None)
                       for key in ("na_values", "read_options", "dtypes")},
                    "drop": spec.dataset.dropped},
        **provenance,
    })
    save_bundle(run_dir / BUNDLE_DIR, fitted.pipeline, schema, metadata,
                reference=reference.profile, reference_sample=reference.sample,
                card=model_card(run_dir, spec, metadata))
    rows = plan.test_idx if len(plan.test_idx) else plan.train_idx
    exports = export_model(fitted.pipeline, data.X.iloc[rows], plan.y[rows], schema,
                           spec.deploy, run_dir)
    tracking = spec.tracking
    delivered = deliver(run_dir, spec.deploy, default_name=f"{data.name}-{selection.model_name}",
                        mirrored_by_run=tracking.backend == "mlflow" and tracking.log_model)
    return {**({"exports": exports} if exports else {}),
            **({"deploy": delivered} if delivered else {}), **provenance}


def _in_sample(plan: RunPlan, fitted: Fitted) -> ScoredRows:
    """Without a test split, the reference's predictions come from a seeded sample of the
    training rows (in sample: ``monitor`` estimates no performance from them)."""
    rows = plan.train_idx[seeded_sample(len(plan.train_idx), IN_SAMPLE_ROWS, plan.spec.seed)]
    X = plan.data.X.iloc[rows]
    pipeline = fitted.pipeline
    return scored_rows(Responses(pipeline[-1], pipeline[:-1].transform(X)), X,
                       plan.data.y.iloc[rows].to_numpy(), plan.classes, out_of_sample=False)


def dataset_record(data: Dataset) -> dict[str, Any]:
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
