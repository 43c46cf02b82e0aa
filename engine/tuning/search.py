"""One hyperparameter search inside a run: open or resume the study, run the workers, pick the
trial to refit and write the results.
"""

from __future__ import annotations

import time
import uuid
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.config.schema.tune import TuneConfig
from engine.config.spec import ExperimentSpec, ModelSpec
from engine.errors import ConfigError, EngineError
from engine.evaluation.metrics import MetricSet
from engine.models.estimators import build_estimator
from engine.models.pipeline import build_pipeline
from engine.tuning.enqueue import configured_defaults, enqueue_starting_trials
from engine.tuning.objective import FIX_MODEL, objective_direction, trial_pipeline_params
from engine.tuning.pipeline_space import PipelineSpace
from engine.tuning.plots import PlotProcess
from engine.tuning.recovery import counted_trials, requeue_interrupted
from engine.tuning.results import pareto_front, pick_trial, write_results
from engine.tuning.settings import check_families_answer, check_objective_names
from engine.tuning.storage import storage_location
from engine.tuning.worker_config import share_config
from engine.tuning.workers import (
    WorkerJob,
    build_space,
    failure_message,
    open_study,
    run_workers,
    search_deadline,
    wait_for_others,
)


@dataclass(frozen=True)
class SearchResult:
    """The trial picked for the refit: its Pipeline parameters and CV scores, a record, and the
    plots being drawn meanwhile."""

    pipeline_params: dict[str, Any]
    cv: dict[str, Any]
    record: dict[str, Any]
    plots: PlotProcess | None = None

    def finish(self) -> dict[str, Any]:
        """The record, once the plots are drawn (their files, or why one was not drawn)."""
        plots = self.plots.result() if self.plots is not None else {}
        return {**self.record, "plots": plots}


def run_search(
    spec: ExperimentSpec,
    settings: TuneConfig,
    *,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    task: str,
    metrics: MetricSet,
    families: dict[str, ModelSpec],
    run_dir: Path,
    console: Console,
) -> SearchResult:
    """Search, then return the picked trial; a study with no usable trial is an EngineError."""
    objectives = search_objectives(settings, metrics)
    check_objective_names(objectives, metrics.scorers)
    settings.check_pick([metrics.primary])
    models = {name: build_estimator(family, task, spec.allowed_targets)
              for name, family in families.items()}
    for note in check_families_answer(metrics, objectives, models, objectives_key=(
            "tune.objectives" if settings.objectives else "metrics.primary")):
        warnings.warn(note, UserWarning, stacklevel=2)
    studies_dir = Path(settings.studies_dir)
    prefix = "models" if families else spec.model.name
    name = settings.study_name or f"{prefix}-{uuid.uuid4().hex[:8]}"
    started = time.time()
    job = WorkerJob(
        spec=spec, settings=settings, study_name=name, studies_dir=studies_dir, X=X, y=y,
        folds=folds, task=task, metrics=metrics, objectives=objectives, families=families,
        deadline=None if settings.timeout is None else started + settings.timeout,
    )
    study, space = open_shared_study(job)
    requeued = requeue_interrupted(study)
    before = len(counted_trials(study))
    starts = [] if settings.method == "grid" else enqueue_starting_trials(
        study, space, configured_defaults(build_pipeline(spec, task, list(X.columns)), models))
    location = storage_location(settings.storage, name, studies_dir)
    console.print(f"study [bold]{name}[/bold] ({settings.method}, pruner {settings.pruner}) in "
                  f"{location}" + (f": resuming with {before} trials" if before else ""))
    if requeued:
        console.print(f"  re-queued {requeued} trial(s) interrupted in an earlier run")
    if starts:
        cheap = starts.count("cheap")
        console.print(f"  first trials: the defaults of {', '.join(families) or spec.model.name}"
                      + (f", then {cheap} cheap variant(s)" if cheap else ""))
    plots = PlotProcess() if settings.plots else None
    try:
        with _Progress(console, settings, before) as on_trial:
            run_workers(job, on_trial, (study, space))
            wait_for_others(study)
        searched = time.time() - started
        deadline = search_deadline(job).at(study)
        given = None if deadline == float("inf") else deadline - started
        result = _finish_search(study, job, space, location, before, (searched, given),
                                run_dir, console)
    except BaseException:
        if plots is not None:
            plots.stop()
        raise
    if plots is not None:
        plots.draw((settings.storage, name, studies_dir), objectives, run_dir / "tuning")
    return replace(result, plots=plots)


def search_objectives(settings: TuneConfig, metrics: MetricSet) -> tuple[str, ...]:
    """The scorers the search optimises: ``tune.objectives``, else the primary metric."""
    return tuple(metrics.primary if o == "auto" else o for o in settings.objectives or ("auto",))


def open_shared_study(job: WorkerJob) -> tuple[Any, PipelineSpace]:
    """Open or create the job's study; a study that searches another space, data or config than
    this process's is refused (the run that launched it and every ``engine worker`` share it)."""
    space = build_space(job)
    study = open_study(job, space)
    _check_same_search(study, _signature(job.spec, job.objectives, space, job.families, job.X))
    share_config(study, job.spec)
    return study, space


def _finish_search(study: Any, job: WorkerJob, space: PipelineSpace, location: str,
                   before: int, seconds: tuple[float, float | None], run_dir: Path,
                   console: Console) -> SearchResult:
    """Pick the trial to refit, write the results and print the outcome; ``seconds``: those
    the search took and those it was given (None without a time limit)."""
    searched, given = seconds
    settings, objectives, name = job.settings, job.objectives, job.study_name
    best = _best_or_fail(study, objectives, settings, failure_message(study, settings))
    record = {
        "study_name": name,
        "storage": location,
        "method": settings.method,
        "pruner": settings.pruner,
        "objectives": list(objectives),
        "directions": [objective_direction(o) for o in objectives],
        "best_trial": best.number,
        "best_values": list(best.values),
        "best_params": best.params,
        "trials": _state_counts(study),
        "new_trials": len(counted_trials(study)) - before,
        "search_seconds": searched,
        **({} if given is None else {"search_given_seconds": given}),
    }
    front = pareto_front(study, objectives)
    if len(objectives) > 1:
        record["pareto_front"] = sorted(int(n) for n in front["number"])
    write_results(study, best, record, run_dir / "tuning", objectives)
    _print_outcome(console, record, front)
    return SearchResult(trial_pipeline_params(space, best.params), best.user_attrs["cv"], record)


def _signature(spec: ExperimentSpec, objectives: tuple[str, ...], space: PipelineSpace,
               families: dict[str, ModelSpec], X: pd.DataFrame) -> dict[str, Any]:
    """What a resumed study must share with this run: data, objectives, model(s) and space."""
    return {
        "dataset": str(spec.dataset.name),
        "columns": [str(c) for c in X.columns],
        "objectives": list(objectives),
        "models": sorted(families) or [spec.model.name],
        "space": {p.name: [p.kind, p.low, p.high, p.step, p.log, [str(c) for c in p.choices]]
                  for p in space.params},
    }


def _check_same_search(study: Any, signature: dict[str, Any]) -> None:
    """A new study records the signature; a resumed one must match it, or exit 2 unchanged."""
    stored = study.user_attrs.get("search")
    if stored is None:
        study.set_user_attr("search", signature)
        return
    for key, value in signature.items():
        if key == "space" and stored.get(key) != value:
            raise ConfigError(
                f"tune.study_name={study.study_name}: the search space changed since the study "
                f"began: {space_changes(stored.get(key) or {}, value)}. Name a new study for "
                "this space (tune.study_name=<new name>), or revert the search_space to resume "
                "this one."
            )
        if stored.get(key) != value:
            raise ConfigError(
                f"tune.study_name={study.study_name}: the stored study searched a different "
                f"{key} ({stored.get(key)} there, {value} here). Resume it with the same "
                "dataset, model, objectives and search_space, or pick another tune.study_name."
            )


def space_changes(stored: dict[str, Any], current: dict[str, Any]) -> str:
    """Each parameter added, removed or given another distribution, old and new readable:
    ``svm.C was float from 0.001 to 1000 (log), is now float from 0.01 to 1000 (log)``."""
    return "; ".join(
        f"{name} was {_distribution(stored.get(name))}, is now {_distribution(current.get(name))}"
        for name in dict.fromkeys([*stored, *current]) if stored.get(name) != current.get(name)
    )


def _distribution(entry: list[Any] | None) -> str:
    """A signature entry ``[kind, low, high, step, log, choices]`` in words."""
    if entry is None:
        return "not searched"
    kind, low, high, step, log, choices = entry
    if kind == "categorical":
        return f"categorical [{', '.join(choices)}]"
    return (f"{kind} from {low:g} to {high:g}" + (f" in steps of {step:g}" if step else "")
            + (" (log)" if log else ""))


def _best_or_fail(study: Any, objectives: tuple[str, ...], settings: TuneConfig,
                  problem: str | None) -> Any:
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if problem or not complete:
        failed = [t for t in counted_trials(study) if t.state.name == "FAIL"]
        first = failed[0].user_attrs.get("error", "no message") if failed else ""
        fix = failed[0].user_attrs.get("fix", FIX_MODEL) if failed else FIX_MODEL
        reason = problem or "no trial completed"
        raise EngineError(
            f"tune: the search stopped: {reason}. First failure (trial "
            f"{failed[0].number if failed else '-'}): {first}. All trials are in study "
            f"'{study.study_name}'; {fix}, then rerun."
        )
    return pick_trial(study, objectives, settings.pick)


def _state_counts(study: Any) -> dict[str, int]:
    """Trials by state; a failed trial that is run again (Ctrl-C, a dead worker) is INTERRUPTED."""
    counted = {t.number for t in counted_trials(study)}
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        state = trial.state.name
        if state == "FAIL" and trial.number not in counted:
            state = "INTERRUPTED"
        counts[state] = counts.get(state, 0) + 1
    return counts


class _Progress:
    """A progress bar of the study's counted trials with the best value so far."""

    def __init__(self, console: Console, settings: TuneConfig, done: int) -> None:
        self.bar = Progress(
            TextColumn("tuning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=console, transient=True,
        )
        self.task = self.bar.add_task("", total=settings.n_trials, completed=done)

    def __enter__(self) -> Any:
        self.bar.start()
        return self.update

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def update(self, study: Any, trial: Any) -> None:
        complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
        best = ""
        if complete and len(study.directions) == 1:
            best = f"best {study.best_value:.4f} (trial {study.best_trial.number})"
        elif complete:
            best = f"{len(study.best_trials)} on the Pareto front"
        self.bar.update(self.task, completed=len(counted_trials(study)), description=best)


def _print_outcome(console: Console, record: dict[str, Any], front: pd.DataFrame) -> None:
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(record["trials"].items()))
    values = ", ".join(f"{o}={v:.4f}" for o, v in zip(record["objectives"],
                                                     record["best_values"], strict=True))
    console.print(f"tuning: {counts} in {record['search_seconds']:.1f} s; refitting trial "
                  f"{record['best_trial']} ({values})")
    if len(front):
        table = Table(title="Pareto front (* refitted)", title_justify="left")
        for column in ("trial", *record["objectives"]):
            table.add_column(column, justify="right")
        for row in front.itertuples(index=False):
            mark = "*" if row.number == record["best_trial"] else ""
            cells = [f"{getattr(row, o):.4g}" for o in record["objectives"]]
            table.add_row(f"{row.number}{mark}", *cells)
        console.print(table)
