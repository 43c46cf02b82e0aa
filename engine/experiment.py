"""One experiment, end to end: validate, load, check, plan, select, fit, test, save.

Each stage (:mod:`engine.stages`) is a plain function of the run plan and the previous stage's
result; only this module strings them together, and only the CLI touches Hydra.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import FixedThresholdClassifier

from engine import stages
from engine.budget import overrun_note, spent_line
from engine.config.spec import ExperimentSpec
from engine.data.dataset import Dataset
from engine.deploy.exports import check_export_targets
from engine.errors import EvaluationError
from engine.evaluation.decision_threshold import check_threshold_task
from engine.evaluation.fairness import failed_measures
from engine.evaluation.metrics import resolve_metrics
from engine.features.preprocessor import build_preprocessor
from engine.models.estimators import model_classes, validate_model
from engine.reporting.run_report import write_run_report
from engine.run_plan import RunPlan, check_calibration_task, make_plan
from engine.threads import limited_threads, threads_per_process
from engine.tracking.files import write_json
from engine.tracking.mlflow_checks import check_tracking
from engine.tracking.mlflow_tracker import MlflowTracker, start_tracking
from engine.tracking.records import METRICS_FILE, RUN_FILE, RunRecord, write_record
from engine.tracking.summary import print_summary
from engine.tracking.warning_log import collected_warnings, summarize_warnings
from engine.tuning.auto_preset import adapt_search
from engine.tuning.pipeline_space import space_for
from engine.tuning.storage import storage_location
from engine.tuning.workers import quiet_optuna


@dataclass(frozen=True)
class RunResult:
    """What a finished run reports: its primary metric and the value sweeps optimise."""

    run_dir: Path
    primary: str
    objective: float
    metrics: dict[str, Any]


def validate_spec(spec: ExperimentSpec) -> None:
    """The checks beyond the schema's that need no data: the tracking store, classes and
    parameters bound against their signatures, the search space, the scorers of a declared
    task, the export targets.

    A sweep runs this on every job before the first one starts.
    """
    check_tracking(spec.tracking)
    validate_model(spec.model, spec.allowed_targets)
    preprocessor = build_preprocessor(spec.features, allowed=spec.allowed_targets)
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
    evaluation = spec.metrics
    if evaluation.threshold and task not in ("auto", "binary"):
        check_threshold_task(evaluation.threshold, task, has_probabilities=True)
    check_calibration_task(evaluation, task)
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
    data: Dataset | None = None, fit_repeats: int = 1, started: float | None = None,
    log_in_background: bool = False,
) -> RunResult:
    """Run ``spec`` and write everything it learned into ``run_dir``.

    ``data`` is the dataset when the caller has loaded it already (a regression suite loads each
    once); ``fit_repeats`` fits the final model that many times and records each fit's seconds
    (their median is ``fit_seconds``), so timing guards are not at the mercy of one noisy fit.
    ``started`` (``time.time()``) is when the command's work began, which ``budget`` counts
    from: the process's start for a single run; by default, now.
    """
    clock = stages.Clock()
    if spec.budget is not None:
        now = time.time()
        budget = spec.budget.begun(now if started is None else started)
        spec = replace(spec, budget=budget)
        clock.timing.update(budget_seconds=budget.seconds,
                            startup_seconds=now - (now if started is None else started))
    validate_spec(spec)
    # MLflow made ready while this trains
    tracker = start_tracking(spec.tracking, project_dir, run_dir)
    try:
        data = stages.load_and_check(spec, run_dir, console, data)
        if spec.tune.searching and spec.tune.auto:
            chosen = adapt_search(spec, data)
            spec = chosen.spec
            console.print(chosen.line, highlight=False)
        plan = make_plan(spec, data)
        clock.lap("prepare_seconds")
        # Every fit, prediction, worker, export and the report share the machine's cores.
        with limited_threads(threads_per_process(work=plan.train_cells)):
            return _run_plan(plan, run_dir, clock, project_dir=project_dir, console=console,
                             fit_repeats=fit_repeats, tracker=tracker,
                             log_in_background=log_in_background)
    finally:
        if tracker is not None:
            tracker.release()


def _run_plan(plan: RunPlan, run_dir: Path, clock: stages.Clock, *, project_dir: Path,
              console: Console, fit_repeats: int, tracker: MlflowTracker | None,
              log_in_background: bool) -> RunResult:
    """Select, fit, test and save the planned experiment; see :func:`run_experiment`."""
    spec = plan.spec
    if spec.tune.searching:
        quiet_optuna()  # before the warnings are collected, so it outlasts that block
    with collected_warnings() as caught:
        selection = stages.select(plan, run_dir, console)
        clock.lap("tune_seconds" if spec.tune.searching else "cv_seconds")
        fitted, fit_seconds = stages.fit(plan, selection, fit_repeats)
        clock.lap("fit_seconds", float(np.median(fit_seconds)))
        if fit_repeats > 1:
            clock.timing["fit_seconds_repeats"] = fit_seconds
        held_out = stages.evaluate(plan, fitted, run_dir)
        clock.lap("evaluate_seconds")
        overfit = stages.overfitting(plan, selection, fitted, held_out)
        tuning = selection.finish()
    metrics = stages.metrics_record(plan, selection, fitted, held_out, overfit, tuning)
    write_record(run_dir / METRICS_FILE, metrics)
    write_json(run_dir / "evaluation.json", held_out.evaluated)
    saved = stages.save(plan, selection, fitted, held_out, run_dir, project_dir)
    clock.lap("save_seconds")
    if "search_given_seconds" in tuning:
        clock.timing["search_given_seconds"] = tuning["search_given_seconds"]
    run = RunRecord.model_validate({
        "status": "ok", "run_dir": str(run_dir), "choices": spec.choices,
        "model": selection.model_name, "seed": spec.seed, "split": spec.split.model_dump(),
        "dataset": stages.dataset_record(plan.data), "primary": metrics.primary,
        "objective": metrics.objective, "timing": clock.total(),
        "warnings": summarize_warnings(caught), **saved,
        **_fairness_failure(held_out.evaluated, run_dir),
    })
    write_record(run_dir / RUN_FILE, run)
    print_summary(console, run, metrics, held_out.evaluated)
    if spec.report:
        report_stage(run_dir, console)
    if tracker is not None:
        # A run that registered a model waits: a registry move right after must find it in
        # MLflow's registry.
        tracker.log(run_dir, console,
                    background=log_in_background and "registry" not in run.deploy)
    if spec.budget is not None:
        clock.lap("report_seconds")
        _print_budget(console, spec, clock.timing)
    if run.status == "failed":
        raise EvaluationError(str(run.error))
    objective = np.nan if metrics.objective is None else metrics.objective  # a Score may be null
    return RunResult(run_dir, metrics.primary, objective,
                     metrics.model_dump(exclude_unset=True))


def _print_budget(console: Console, spec: ExperimentSpec, timing: dict[str, Any]) -> None:
    """How the budget was spent, and a warning when the command ran past it."""
    assert spec.budget is not None and spec.budget.started is not None
    total = time.time() - spec.budget.started
    console.print(spent_line(spec.budget, timing, total))
    note = overrun_note(spec.budget, total, spec.tune.searching)
    if note:
        console.print(f"[yellow]warning[/yellow]: {note}")


def _fairness_failure(evaluated: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """``status: failed`` and the error, when the model fails a declared fairness limit."""
    failed = failed_measures(evaluated.get("fairness", {}), "fail")
    if not failed:
        return {}
    return {"status": "failed",
            "error": ("metrics.fairness.limits: the model fails " + "; ".join(failed)
                      + f". Everything is written to {run_dir}; see evaluation.json for the "
                      "metrics by group.")}


def report_stage(run_dir: Path, console: Console) -> None:
    """Write report.html; a report that cannot be drawn is a warning, the run stays done."""
    try:
        console.print(f"report: {write_run_report(run_dir)}")
    except Exception as error:  # the run's results are already on disk
        console.print(f"[yellow]warning[/yellow]: report.html not written: {error!r}")
