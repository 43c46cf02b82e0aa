"""``python -m engine worker --study NAME --storage URL [--refit] [OVERRIDES]``: join a shared
study from any machine that has the data, and run its trials until the budget is spent.

The experiment comes from the study (:mod:`engine.tuning.worker_config`): overrides are needed
only to start a study, and any given must agree with it. A worker never refits; ``--refit``
runs what is left of the budget, then refits the best trial once and writes a run directory,
as the run that launched the study does when its search ends.
"""

from __future__ import annotations

import argparse
import datetime
import time
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.config.spec import ExperimentSpec
from engine.errors import ConfigError, did_you_mean
from engine.tracking.files import default_output_dir
from engine.tracking.summary import make_console
from engine.tuning.storage import (
    check_study_name,
    hide_password,
    open_storage,
    storage_location,
)
from engine.tuning.worker_config import EXPERIMENT_ATTR, experiment_record, spec_from_record
from engine.tuning.workers import WorkerJob, quiet_optuna, run_workers

STUDY_KEYS = ("tune.study_name", "tune.storage")


def worker(args: Sequence[str]) -> None:
    """Parse the command line, then run trials (or the refit) on the named study."""
    parser = argparse.ArgumentParser(
        prog="engine worker",
        description="Run trials of a shared Optuna study until its budget (tune.n_trials, "
                    "tune.timeout) is spent; start as many as you like, on any machines that "
                    "have the data. The study's config is stored in it: overrides are needed "
                    "only for a study that does not exist yet.",
    )
    parser.add_argument("--study", required=True, help="the study's name (tune.study_name)")
    parser.add_argument("--storage", required=True,
                        help="where the study lives: postgresql+psycopg://user@host/db, or a "
                             "journal file on a shared disk")
    parser.add_argument("--refit", action="store_true",
                        help="after the budget is spent, refit the best trial here and write a "
                             "run directory (once per study)")
    parser.add_argument("--config-dir", help="your own folder of config groups, for overrides")
    parser.add_argument("overrides", nargs="*", metavar="OVERRIDE",
                        help="the experiment, for a new study (e.g. tune=tpe tune.n_trials=200 "
                             "model=random_forest dataset=adult)")
    options = parser.parse_args(args)
    spec = worker_spec(options.study, options.storage, options.overrides,
                       config_dir=options.config_dir)
    if options.refit:
        refit(spec)
    else:
        run_trials(spec)


def worker_spec(study: str, storage: str, overrides: Sequence[str], *,
                config_dir: str | None = None) -> ExperimentSpec:
    """The experiment this worker runs: the overrides' (checked against the study's later, when
    it is open), else the one stored in the study."""
    check_study_name(study)
    for override in overrides:
        if override.split("=", 1)[0].lstrip("+~") in STUDY_KEYS:
            raise ConfigError(f"worker: {override}: the study is named by --study and --storage; "
                              "leave tune.study_name and tune.storage out of the overrides.")
    if overrides:
        from engine.config.compose import compose_spec

        spec = compose_spec(overrides, config_dir=config_dir)
        if not spec.tune.searching:
            raise ConfigError("worker: these overrides choose no search (tune=none); add the "
                              "tune option and budget the study runs, e.g. tune=tpe "
                              "tune.n_trials=100.")
    else:
        spec = spec_from_record(_stored_experiment(study, storage))
    return replace(spec, tune=spec.tune.model_copy(update={"study_name": study,
                                                           "storage": storage}))


def _stored_experiment(study: str, storage: str) -> dict[str, Any]:
    """The experiment stored in the study; a study that does not exist yet is a ConfigError."""
    studies_dir = default_output_dir() / "studies"  # where --storage journal means
    opened = open_storage(storage, study, studies_dir)
    location = hide_password(storage_location(storage, study, studies_dir))
    try:
        record = opened.get_study_user_attrs(opened.get_study_id_from_name(study))
    except KeyError:
        names = [summary.study_name for summary in opened.get_all_studies()]
        raise ConfigError(
            f"worker --study {study}: no such study in {location}.{did_you_mean(study, names)} "
            "Start it with the experiment's overrides (python -m engine worker --study "
            f"{study} --storage URL tune=tpe tune.n_trials=100 ...), or by a run with "
            f"tune.study_name={study} tune.storage=URL."
        ) from None
    if EXPERIMENT_ATTR not in record:
        raise ConfigError(f"worker --study {study}: the study holds no experiment config (it "
                          "was started by an older engine or by hand); give this worker the "
                          "overrides it was started with.")
    return dict(record[EXPERIMENT_ATTR])


def run_trials(spec: ExperimentSpec) -> int:
    """Join the study and run trials until its budget is spent; returns how many ran here."""
    from engine.tuning.recovery import counted_trials, requeue_interrupted, worker_id
    from engine.tuning.search import open_shared_study

    console = make_console()
    job = _worker_job(spec)
    study, space = open_shared_study(job)
    requeue_interrupted(study)
    settings, me = spec.tune, worker_id()
    console.print(f"worker {me}: study [bold]{job.study_name}[/bold] "
                  f"({len(counted_trials(study))} of {settings.n_trials or 'unlimited'} trials "
                  f"done), {settings.n_jobs} process(es) here", highlight=False)
    ran: list[int] = []

    def report(study: Any, trial: Any) -> None:
        ran.append(trial.number)
        value = "" if trial.values is None else " ".join(f"{v:.4f}" for v in trial.values)
        console.print(f"  trial {trial.number} {trial.state.name.lower()} {value}",
                      highlight=False)

    run_workers(job, report, (study, space))
    console.print(f"worker {me}: ran {len(ran)} trial(s); the study has "
                  f"{len(counted_trials(study))} of {settings.n_trials or 'unlimited'} done. "
                  "A run that started the study refits its best trial when the budget is spent; "
                  "a study started by workers is refitted once with: python -m engine worker "
                  f"--study {job.study_name} --storage URL --refit", highlight=False)
    return len(ran)


def _worker_job(spec: ExperimentSpec) -> WorkerJob:
    """The data, folds and scorers of ``spec``, loaded and split here as the run does."""
    from engine.data.sources import load_dataset
    from engine.experiment import validate_spec
    from engine.run_plan import make_plan
    from engine.tuning.search import search_objectives

    if spec.budget is not None:  # counted from this worker's start, as tune.timeout is
        spec = replace(spec, budget=spec.budget.begun(time.time()))
    validate_spec(spec)
    quiet_optuna()
    plan = make_plan(spec, load_dataset(spec.dataset, seed=spec.seed))
    settings = spec.tune
    return WorkerJob(
        spec=spec, settings=settings, study_name=str(settings.study_name),
        studies_dir=Path(settings.studies_dir), X=plan.X_train, y=plan.y_train,
        folds=plan.folds, task=plan.data.task, metrics=plan.metrics,
        objectives=search_objectives(settings, plan.metrics), families=spec.candidates,
        deadline=None if settings.timeout is None else time.time() + settings.timeout,
        worker=worker_number(),
    )


def worker_number() -> int:
    """This process's number among a study's workers on any machine, from its ``host:pid``:
    workers opening the study at once draw different parameters. Below 40,000, so that the
    sampler's seed (``seed + number * 100,003 + trials``) stays a 32-bit one."""
    from engine.tuning.recovery import worker_id

    return 1 + zlib.crc32(worker_id().encode()) % 40_000


def refit(spec: ExperimentSpec) -> Path:
    """Run the experiment on the study (what is left of its budget, then the refit of the best
    trial), into a new run directory under the output folder."""
    from omegaconf import OmegaConf

    from engine.experiment import run_experiment
    from engine.tracking.files import write_text
    from engine.tracking.records import RESOLVED_CONFIG_FILE

    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
    run_dir = default_output_dir() / "runs" / stamp
    run_dir.mkdir(parents=True)
    config = experiment_record(spec)["config"]
    write_text(run_dir / RESOLVED_CONFIG_FILE, OmegaConf.to_yaml(OmegaConf.create(config)))
    run_experiment(spec, run_dir, project_dir=Path.cwd(), console=make_console())
    return run_dir
