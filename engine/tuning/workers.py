"""Worker processes that share one study: each gets the data once and runs trials until the
study's budget is spent.

The calling process is worker 0 (with the progress bar); ``n_jobs - 1`` more are spawned, not
forked, so no OpenMP or lock state is inherited. Each worker limits its BLAS/OpenMP threads to its
share of the available cores (:mod:`engine.threads`), so two workers on two cores do not fight
over them.

Ctrl-C stops every worker: each flags the trial it was running to be run again
(:mod:`engine.tuning.recovery`), and the calling process passes the interrupt on to the others.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.budget import refit_scale
from engine.config.schema.tune import TuneConfig
from engine.config.spec import ExperimentSpec, ModelSpec
from engine.evaluation.metrics import MetricSet
from engine.threads import limited_threads, threads_per_process
from engine.tuning.deadline import DeadlinePruner, SearchDeadline
from engine.tuning.ensemble_selection import ENSEMBLE_REFITS, selection_seconds
from engine.tuning.objective import CVObjective, objective_direction
from engine.tuning.out_of_fold import oof_directory
from engine.tuning.pipeline_space import PipelineSpace, space_for
from engine.tuning.recovery import (
    counted_trials,
    in_flight,
    interrupted_trial,
    requeue_interrupted,
    worker_id,
)
from engine.tuning.samplers import make_pruner, make_sampler
from engine.tuning.storage import open_storage

if TYPE_CHECKING:
    import optuna

# Samplers whose workers must share one seed: they walk one sequence or grid by trial number.
SHARED_SEQUENCE = ("qmc", "grid")


@dataclass(frozen=True)
class WorkerJob:
    """Everything a worker needs; pickled once per spawned worker."""

    spec: ExperimentSpec
    settings: TuneConfig
    study_name: str
    studies_dir: Path
    X: pd.DataFrame
    y: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    task: str
    metrics: MetricSet
    objectives: tuple[str, ...]
    families: dict[str, ModelSpec]
    deadline: float | None
    """When ``tune.timeout`` ends (``time.time()``); the spec's budget may end the search
    sooner (:func:`search_deadline`)."""
    worker: int = 0
    """Seeds this process's sampler apart from the other workers': 0 in the run that launched
    the study, 1, 2, ... in its spawned workers, one per process for ``engine worker``."""
    parent: int = 0


def open_study(job: WorkerJob, space: PipelineSpace) -> optuna.Study:
    """Create or load the study, with a sampler seeded from ``seed``, the worker number and the
    trials already in the study (so a seeded sequential study repeats exactly)."""
    import optuna

    quiet_optuna()
    settings = job.settings
    study = optuna.create_study(
        study_name=job.study_name,
        storage=open_storage(settings.storage, job.study_name, job.studies_dir),
        pruner=DeadlinePruner(make_pruner(settings.pruner, settings.pruner_options),
                              search_deadline(job)),
        directions=[objective_direction(name) for name in job.objectives],
        load_if_exists=True,
    )
    if study.metric_names is None:  # optuna-dashboard labels the objectives with them
        study.set_metric_names(list(job.objectives))
    seed = job.spec.seed
    if settings.method not in SHARED_SEQUENCE:
        # A resumed study or another worker must not replay the same draws.
        seed += job.worker * 100_003 + len(study.get_trials(deepcopy=False))
    study.sampler = make_sampler(
        settings.method, settings.sampler_options, seed=seed,
        grid=space.grid() if settings.method == "grid" else None,
    )
    return study


def search_deadline(job: WorkerJob) -> SearchDeadline:
    """When the job's search must end: ``tune.timeout``'s end or the budget's less the stages
    after the search (a refit costs more when calibration or a threshold fit on the folds)."""
    spec = job.spec
    scale = refit_scale(len(job.X), [len(train) for train, _ in job.folds],
                        refits_on_folds=spec.metrics.fits_on_folds)
    ensemble = spec.tune.ensemble
    if not ensemble.size:
        return SearchDeadline(job.deadline, spec.budget, scale, len(job.folds))
    refits = min(ensemble.size, ENSEMBLE_REFITS)  # the selection takes those that fit
    return SearchDeadline(job.deadline, spec.budget, scale, len(job.folds), refits=refits,
                          selection_seconds=selection_seconds(refits, ensemble.rounds,
                                                              len(job.folds)))


def build_space(job: WorkerJob) -> PipelineSpace:
    """The Pipeline's search space for this job's spec."""
    return space_for(job.spec, job.task, job.families, list(job.X.columns))


def run_worker(
    job: WorkerJob,
    on_trial: Callable[[Any, Any], None] | None = None,
    opened: tuple[optuna.Study, PipelineSpace] | None = None,
) -> None:
    """Run trials on the shared study until the budget (total trials or deadline) is spent.

    ``opened`` is the study and space the calling process has already (worker 0); a spawned
    worker ends quietly on Ctrl-C, the calling process hears of it as KeyboardInterrupt.
    """
    if not job.parent:
        _optimize(job, on_trial, opened)
        return
    signal.signal(signal.SIGINT, _interrupt_once)
    with contextlib.suppress(KeyboardInterrupt):
        _optimize(job, on_trial, opened)


def _optimize(
    job: WorkerJob,
    on_trial: Callable[[Any, Any], None] | None,
    opened: tuple[optuna.Study, PipelineSpace] | None,
) -> None:
    from engine.models.pipeline import build_pipeline

    if opened is None:
        space = build_space(job)
        opened = open_study(job, space), space
    study, space = opened
    objective = CVObjective(
        build_pipeline(job.spec, job.task, list(job.X.columns)), job.X, job.y, job.folds,
        job.metrics, space, job.objectives, job.settings.prune_on,
        oof_directory(job.settings, job.studies_dir, job.study_name),
    )
    deadline = search_deadline(job)
    callbacks: list[Callable[[Any, Any], None]] = [_StopRule(job.settings, deadline)]
    if job.parent:
        callbacks.append(_stop_if_orphaned(job.parent))
    if on_trial is not None:
        callbacks.append(on_trial)
    remaining = _remaining(study, job.settings)
    if remaining == 0 or deadline.spent(study):
        return
    threads = threads_per_process(job.settings.n_jobs, work=job.X.shape[0] * job.X.shape[1])
    me = worker_id()

    def tagged(trial: Any) -> Any:
        trial.set_user_attr("worker", me)
        try:
            return objective(trial)
        except KeyboardInterrupt:
            interrupted_trial(study, trial, "interrupted (Ctrl-C)")
            raise

    with limited_threads(threads):
        study.optimize(tagged, n_trials=remaining, catch=(Exception,), callbacks=callbacks)


def run_workers(
    job: WorkerJob,
    on_trial: Callable[[Any, Any], None],
    opened: tuple[optuna.Study, PipelineSpace],
) -> None:
    """Worker 0 here (on the ``opened`` study), the others in spawned processes; wait for all."""
    context = multiprocessing.get_context("spawn")
    others = [
        context.Process(target=run_worker,
                        args=(replace(job, worker=job.worker + number, parent=os.getpid()),),
                        daemon=True)
        for number in range(1, job.settings.n_jobs)
    ]
    for process in others:
        process.start()
    try:
        run_worker(job, on_trial, opened)
    except KeyboardInterrupt:  # a `kill -INT` reaches this process only; Ctrl-C reaches them all
        for process in others:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGINT)
        raise
    finally:
        for process in others:
            process.join()


def wait_for_others(study: optuna.Study, poll_seconds: float = 0.5) -> None:
    """Until no worker, here or on another machine, is running a trial of the study, so the
    trial picked for the refit is picked from all of them. A dead worker's trial ends too: on
    this host when its process is gone, elsewhere when the database's heartbeat goes stale."""
    import optuna
    from optuna.storages import fail_stale_trials

    while in_flight(study):
        requeue_interrupted(study)
        with warnings.catch_warnings():  # "experimental" since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(study)
        time.sleep(poll_seconds)


def _interrupt_once(signum: int, frame: object) -> None:
    """A spawned worker's SIGINT handler: the first one interrupts it, later ones (the terminal's
    and the one passed on by the calling process) are ignored while it flags its trial."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def quiet_optuna() -> None:
    """Optuna's per-trial log lines and experimental-feature warnings are replaced by ours."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # PED-ANOVA's notes on few trials and on its target (plots.py negates a maximised one).
    warnings.filterwarnings("ignore", message="Some regimes for parameter", category=UserWarning)
    warnings.filterwarnings("ignore", message="PedAnovaImportanceEvaluator computes",
                            category=UserWarning)


def _remaining(study: optuna.Study, settings: TuneConfig) -> int | None:
    if settings.n_trials is None:
        return None
    return max(0, settings.n_trials - len(counted_trials(study)))


def _stop_if_orphaned(parent: int) -> Callable[[Any, Any], None]:
    """A spawned worker whose run was killed (``kill -9``) stops after its current trial."""

    def check(study: optuna.Study, trial: Any) -> None:
        if os.getppid() != parent:
            study.stop()

    return check


class _StopRule:
    """Stop when the study's total reaches ``n_trials`` (counting other workers' running
    trials), when the deadline leaves no time for a fold, or when too many trials failed; first
    re-queue the trials of workers that died."""

    def __init__(self, settings: TuneConfig, deadline: SearchDeadline) -> None:
        self.settings = settings
        self.deadline = deadline

    def __call__(self, study: optuna.Study, trial: Any) -> None:
        requeue_interrupted(study)
        if failure_message(study, self.settings) is not None or self.deadline.spent(study):
            study.stop()
            return
        if self.settings.n_trials is None:
            return
        if len(counted_trials(study)) + len(in_flight(study)) >= self.settings.n_trials:
            study.stop()


def failure_message(study: optuna.Study, settings: TuneConfig) -> str | None:
    """Why the study must stop: more than ``max_failure_fraction`` of 5 or more trials failed."""
    counted = counted_trials(study)
    failed = [t for t in counted if t.state.name == "FAIL"]
    if len(counted) < 5 or len(failed) <= settings.max_failure_fraction * len(counted):
        return None
    return (f"{len(failed)} of {len(counted)} trials failed, more than "
            f"tune.max_failure_fraction={settings.max_failure_fraction}")
