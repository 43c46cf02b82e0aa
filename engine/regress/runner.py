"""Running a suite: compose and check every experiment, load each dataset once, then train the
experiments in parallel worker processes and measure them.

Everything that can be wrong with the suite itself (an override, a guard naming a scorer the
experiment lacks, a missing data file) is found before the first experiment trains.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from joblib import Parallel, delayed

from engine.config.compose import compose_spec
from engine.config.hydra_errors import CONFIG_ERRORS, user_message
from engine.config.spec import ExperimentSpec
from engine.data.dataset import Dataset
from engine.data.sources import load_dataset
from engine.errors import ConfigError, EngineError, did_you_mean
from engine.evaluation.metrics import resolve_metrics
from engine.experiment import run_experiment, validate_spec
from engine.models.pipeline import build_pipeline
from engine.regress.measurement import Measurement, read_measurement
from engine.regress.suite import Suite, SuiteExperiment
from engine.tracking.files import write_text
from engine.tracking.summary import make_console


@dataclass(frozen=True)
class PlannedExperiment:
    """A suite experiment with its composed spec and the key of the dataset it reads."""

    experiment: SuiteExperiment
    spec: ExperimentSpec
    data_key: str


def plan_suite(suite: Suite) -> list[PlannedExperiment]:
    """Compose and validate every experiment's config, as a sweep's preflight does."""
    planned = []
    for experiment in suite.experiments:
        try:
            spec = compose_spec(experiment.overrides)
            validate_spec(spec)
        except CONFIG_ERRORS as error:
            raise ConfigError(f"{suite.path}: experiments.{experiment.name} "
                              f"({' '.join(experiment.overrides)}): {user_message(error)}"
                              ) from None
        key = json.dumps([spec.dataset.model_dump(), spec.seed], sort_keys=True, default=str)
        planned.append(PlannedExperiment(experiment, spec, key))
    return planned


def load_suite_data(suite: Suite, planned: list[PlannedExperiment]) -> dict[str, Dataset]:
    """Each distinct dataset (config and seed) loaded once; then every guard's scorer checked
    against the scorers its experiment reports."""
    datasets: dict[str, Dataset] = {}
    for plan in planned:
        where = f"{suite.path}: experiments.{plan.experiment.name}"
        if plan.data_key not in datasets:
            try:
                datasets[plan.data_key] = load_dataset(plan.spec.dataset, seed=plan.spec.seed)
            except EngineError as error:
                raise ConfigError(f"{where}: {user_message(error)}") from None
        _check_guarded_scorers(plan, datasets[plan.data_key], where)
    return datasets


def _check_guarded_scorers(plan: PlannedExperiment, data: Dataset, where: str) -> None:
    pipeline = build_pipeline(plan.spec, data.task, list(data.X.columns))
    scorers = resolve_metrics(plan.spec.metrics, data.task,
                              has_probabilities=hasattr(pipeline, "predict_proba")).scorers
    split = plan.spec.split
    missing = {"cv": split.cv.strategy == "none", "test": not split.test_size}
    for guard in plan.experiment.guards:
        stage, _, metric = guard.key.partition(".")
        if missing.get(stage):
            raise ConfigError(
                f"{where}.guards.{guard.key}: this experiment has no {stage} scores (split."
                f"{'cv.strategy is none' if stage == 'cv' else 'test_size is 0'}); guard the "
                f"{'test' if stage == 'cv' else 'cv'} scores instead or change the split.")
        if not guard.is_timing and metric != "primary" and metric not in scorers:
            raise ConfigError(
                f"{where}.guards.{guard.key}: this {data.task} experiment reports no scorer "
                f"'{metric}'.{did_you_mean(metric, scorers)} It reports: {', '.join(scorers)} "
                "(or say primary).")


def run_planned(suite: Suite, planned: list[PlannedExperiment], datasets: dict[str, Dataset],
                *, output_dir: Path, project_dir: Path, jobs: int,
                on_done: Callable[[Measurement], None]) -> dict[str, Measurement]:
    """Train and measure every experiment, ``jobs`` at a time; ``on_done`` hears each as it ends.

    joblib's loky workers each get ``cores // jobs`` threads, so parallel experiments do not
    fight over cores (and the same ``jobs`` on the same machine gives the same numbers).
    """
    tasks = (delayed(measure_experiment)(plan, datasets[plan.data_key], output_dir / plan.
                                         experiment.name, project_dir, suite)
             for plan in planned)
    results: Iterator[Measurement] = Parallel(
        n_jobs=min(jobs, len(planned)), return_as="generator_unordered")(tasks)
    measured = {}
    for measurement in results:
        on_done(measurement)
        measured[measurement.name] = measurement
    return {plan.experiment.name: measured[plan.experiment.name] for plan in planned}


def measure_experiment(plan: PlannedExperiment, data: Dataset, run_dir: Path,
                       project_dir: Path, suite: Suite) -> Measurement:
    """Run one experiment into ``run_dir`` (its console output to console.log) and measure it;
    a failure is recorded in the measurement, never raised."""
    experiment = plan.experiment
    run_dir.mkdir(parents=True, exist_ok=True)
    overrides = list(experiment.overrides)
    try:
        with (run_dir / "console.log").open("w") as log:
            console = make_console()
            console.file = log
            run_experiment(plan.spec, run_dir, project_dir=project_dir, console=console,
                           data=data, fit_repeats=suite.fit_repeats)
        return read_measurement(experiment.name, overrides, run_dir, data.X,
                                suite.predict_repeats)
    except EngineError as error:
        message = user_message(error)
    except Exception as error:
        write_text(run_dir / "error.txt", traceback.format_exc())
        message = f"{type(error).__name__}: {user_message(error)} (traceback in error.txt)"
    return Measurement(experiment.name, overrides, error=message)
