"""One hyperparameter search inside a run: open or resume the study, run the workers, pick the
trial to refit and write the results.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from engine.config.spec import ExperimentSpec, ModelSpec
from engine.errors import ConfigError, EngineError
from engine.evaluation.metrics import MetricSet
from engine.tuning.objective import objective_direction, trial_pipeline_params
from engine.tuning.plots import start_plots
from engine.tuning.recovery import counted_trials, requeue_interrupted
from engine.tuning.results import pick_trial, write_results
from engine.tuning.settings import TuneSettings, check_objective_names
from engine.tuning.storage import storage_location
from engine.tuning.workers import WorkerJob, build_space, failure_message, open_study, run_workers


@dataclass(frozen=True)
class SearchResult:
    """The trial picked for the refit: its Pipeline parameters and CV scores, a record, and the
    plots being drawn meanwhile."""

    pipeline_params: dict[str, Any]
    cv: dict[str, Any]
    record: dict[str, Any]
    plots: Future[dict[str, str]] | None = None

    def finish(self) -> dict[str, Any]:
        """The record, once the plots are drawn (their files, or why one was not drawn)."""
        plots = self.plots.result() if self.plots is not None else {}
        return {**self.record, "plots": plots}


def run_search(
    spec: ExperimentSpec,
    settings: TuneSettings,
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
    objectives = tuple(metrics.primary if o == "auto" else o
                       for o in settings.objectives or ("auto",))
    check_objective_names(objectives, metrics.scorers)
    studies_dir = Path(settings.studies_dir)
    prefix = "models" if families else spec.model.name
    name = settings.study_name or f"{prefix}-{uuid.uuid4().hex[:8]}"
    started = time.time()
    job = WorkerJob(
        spec=spec, settings=settings, study_name=name, studies_dir=studies_dir, X=X, y=y,
        folds=folds, task=task, metrics=metrics, objectives=objectives, families=families,
        deadline=None if settings.timeout is None else started + settings.timeout,
    )
    study = open_study(job)
    _check_directions(study, objectives)
    requeued = requeue_interrupted(study)
    before = len(counted_trials(study))
    location = storage_location(settings.storage, name, studies_dir)
    console.print(f"study [bold]{name}[/bold] ({settings.method}, pruner {settings.pruner}) in "
                  f"{location}" + (f": resuming with {before} trials" if before else ""))
    if requeued:
        console.print(f"  re-queued {requeued} trial(s) interrupted in an earlier run")
    with _progress(console, settings, before) as on_trial:
        run_workers(job, on_trial)
    searched = time.time() - started
    best = _best_or_fail(study, objectives, settings, failure_message(study, settings))
    space = build_space(job)
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
    }
    write_results(study, best, record, run_dir / "tuning", objectives)
    plots = start_plots(study, objectives, run_dir / "tuning") if settings.plots else None
    _print_outcome(console, record)
    return SearchResult(trial_pipeline_params(space, best.params), best.user_attrs["cv"], record,
                        plots)


def _check_directions(study: Any, objectives: tuple[str, ...]) -> None:
    wanted = [objective_direction(o) for o in objectives]
    have = [d.name.lower() for d in study.directions]
    if have != wanted:
        raise ConfigError(
            f"tune.study_name={study.study_name}: the stored study optimises {have}, but this "
            f"run's objectives {list(objectives)} need {wanted}. Use another tune.study_name."
        )


def _best_or_fail(study: Any, objectives: tuple[str, ...], settings: TuneSettings,
                  problem: str | None) -> Any:
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if problem or not complete:
        failed = [t for t in counted_trials(study) if t.state.name == "FAIL"]
        first = failed[0].user_attrs.get("error", "no message") if failed else ""
        reason = problem or "no trial completed"
        raise EngineError(
            f"tune: the search stopped: {reason}. First failure (trial "
            f"{failed[0].number if failed else '-'}): {first}. All trials are in study "
            f"'{study.study_name}'; fix the model or its search_space and rerun."
        )
    return pick_trial(study, objectives, settings.pick)


def _state_counts(study: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


class _progress:
    """A progress bar of the study's counted trials with the best value so far."""

    def __init__(self, console: Console, settings: TuneSettings, done: int) -> None:
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


def _print_outcome(console: Console, record: dict[str, Any]) -> None:
    counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(record["trials"].items()))
    values = ", ".join(f"{o}={v:.4f}" for o, v in zip(record["objectives"],
                                                     record["best_values"], strict=True))
    console.print(f"tuning: {counts} in {record['search_seconds']:.1f} s; refitting trial "
                  f"{record['best_trial']} ({values})")
