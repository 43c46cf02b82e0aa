"""A Hydra sweeper on Optuna: each trial is one Hydra job, launched by Hydra's launcher.

``python -m engine -m hydra/sweeper=optuna 'model.max_iter=int(range(20,200))' dataset=iris,wine``
samples each trial's overrides from the study (conf/hydra/sweeper/optuna.yaml holds the settings),
launches ``n_jobs`` of them per launcher batch, and tells the study each job's returned primary
metric, or FAIL with the job's error. Hydra instantiates sweepers only from the ``hydra_plugins``
package, so hydra_plugins/engine_optuna_sweeper.py names this class there. Optuna is imported when
a sweep starts, never by ``--help``.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from pydantic import Field

from engine.config.schema.base import NonNegative, Positive, Section
from engine.errors import ConfigError, EngineError, RecordError, first_line
from engine.tracking.files import write_text
from engine.tuning.recovery import counted_trials, requeue_interrupted, worker_id
from engine.tuning.sweep_space import SweepSpace, params_overrides, parse_sweep

if TYPE_CHECKING:
    from optuna import Study
    from optuna.trial import Trial

log = logging.getLogger(__name__)
RESULTS_FILE = "optuna_results.yaml"


class OptunaSweeper(Sweeper):
    """Runs an Optuna study whose trials are Hydra jobs (settings: conf/hydra/sweeper/optuna.yaml).

    ``n_trials`` is the number of finished trials the study should hold: a named study resumes
    and runs only the missing ones.
    """

    # Optional in Sweeper; Hydra calls setup, which sets both, before sweep.
    config: DictConfig
    launcher: Launcher

    def __init__(
        self,
        *,
        method: str = "tpe",
        sampler_options: Mapping[str, Any] | None = None,
        direction: str = "maximize",
        n_trials: int = 20,
        timeout: float | None = None,
        n_jobs: int = 1,
        study_name: str | None = None,
        storage: str | None = None,
        studies_dir: str = "outputs/studies",
        seed: int = 42,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.method = method
        self.sampler_options = sampler_options
        self.direction = direction
        self.n_trials = n_trials
        self.timeout = timeout
        self.n_jobs = n_jobs
        self.study_name = study_name
        self.storage = storage
        self.studies_dir = studies_dir
        self.seed = seed
        self.params = params

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        from hydra.core.plugins import Plugins

        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        """Run trials until the study holds ``n_trials`` finished ones or ``timeout`` passes."""
        check_settings(self)
        space = parse_sweep([*params_overrides(self.params), *arguments])
        study_name = self.study_name or datetime.now().strftime("sweep_%Y-%m-%d_%H-%M-%S-%f")
        study, location = self._open_study(study_name)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        write_text(sweep_dir / "multirun.yaml", OmegaConf.to_yaml(self.config))
        finished = _finished(study)
        log.info(f"Optuna study '{study_name}' in {location}: {finished} finished trials, "
                 f"{max(self.n_trials - finished, 0)} to run (n_trials={self.n_trials}); "
                 f"sampler {self.method}, {self.direction}")
        returns = self._run_trials(study, space)
        report_best(study, location, sweep_dir / RESULTS_FILE)
        return returns

    def _open_study(self, study_name: str) -> tuple[Study, str]:
        """The study (created, or loaded to resume) and where it lives."""
        import optuna

        from engine.tuning.samplers import make_sampler
        from engine.tuning.storage import open_storage, storage_location

        studies_dir = Path(self.studies_dir)
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweeper prints its own lines
        with _as_sweeper_settings():
            storage = open_storage(self.storage, study_name, studies_dir)
            # Seeded past the trials the study already has, so a resumed study samples afresh.
            seed = self.seed + _trial_count(storage, study_name)
            with warnings.catch_warnings():  # TPE's multivariate and group options, set by us
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                sampler = make_sampler(self.method, self.sampler_options, seed=seed)
        study = optuna.create_study(
            study_name=study_name,
            storage=storage,
            sampler=sampler,
            # check_settings refused any other direction
            direction=cast(Literal["maximize", "minimize"], self.direction),
            load_if_exists=True,
        )
        requeue_interrupted(study)
        return study, storage_location(self.storage, study_name, studies_dir)

    def _run_trials(self, study: Study, space: SweepSpace) -> list[JobReturn]:
        """Ask, launch and tell, one batch of up to ``n_jobs`` trials at a time."""
        distributions = space.distributions()
        deadline = math.inf if self.timeout is None else time.monotonic() + self.timeout
        returns: list[JobReturn] = []
        while time.monotonic() < deadline:
            batch = min(self.n_jobs, self.n_trials - _finished(study))
            if batch <= 0:
                break
            trials = [study.ask(distributions) for _ in range(batch)]
            for trial in trials:
                trial.set_user_attr("worker", worker_id())
            jobs = [space.trial_overrides(trial.params) for trial in trials]
            results = self.launcher.launch(jobs, initial_job_idx=len(returns))
            for trial, result in zip(trials, results, strict=True):
                tell_result(study, trial, result)
            returns.extend(results)
        return returns


class SweeperSettings(Section):
    """The settings no sampler or storage checks (conf/hydra/sweeper/optuna.yaml)."""

    method: Literal["tpe", "random", "cmaes", "gp", "qmc", "nsga2"]
    """The Optuna sampler; for every combination of the values, use Hydra's basic sweeper."""
    direction: Literal["maximize", "minimize"]
    """maximize: the engine's metrics are scores, greater is better."""
    n_trials: Positive
    n_jobs: Positive
    seed: NonNegative
    timeout: Annotated[float, Field(gt=0)] | None


def check_settings(sweeper: OptunaSweeper) -> None:
    """The settings no sampler or storage checks: method, direction, counts, seed."""
    from engine.config.schema import parse_section

    parse_section(SweeperSettings, {key: getattr(sweeper, key)
                                    for key in SweeperSettings.model_fields}, "hydra.sweeper.")


def tell_result(study: Study, trial: Trial, result: JobReturn) -> None:
    """Tell the study a job's value, or FAIL with the job's error (in the user attr ``error``)."""
    from optuna.trial import TrialState

    assert result.hydra_cfg is not None  # the launcher sets it before the task starts
    job_dir = Path(result.hydra_cfg.hydra.runtime.output_dir)
    trial.set_user_attr("job_dir", str(job_dir))
    value, error = _job_outcome(result, job_dir)
    if error is None:
        study.tell(trial, value)
        log.info(f"trial {trial.number}: {value:.6g}")
    else:
        trial.set_user_attr("error", error)
        study.tell(trial, state=TrialState.FAIL)
        log.warning(f"trial {trial.number} failed: {error}")


def _job_outcome(result: JobReturn, job_dir: Path) -> tuple[float, str | None]:
    """The job's value and None, or NaN and why it failed (its run.json's error when written).

    engine.cli.run_job returns NaN for a failed sweep job, after writing the error to run.json.
    """
    try:
        value = float(result.return_value)
    except Exception as error:  # the job raised, or returned no number: that is its failure
        return math.nan, f"{type(error).__name__}: {first_line(error)}"
    if not math.isnan(value):
        return value, None
    from engine.tracking.records import RUN_FILE, read_run

    if (job_dir / RUN_FILE).is_file():
        try:
            return value, read_run(job_dir).error or "the job returned NaN"
        except RecordError as error:  # a damaged run.json: the job failed all the same
            return value, str(error)
    return value, "the job returned NaN"


def report_best(study: Study, location: str, path: Path) -> None:
    """Print the best trial and write it, with the study's name, storage and counts, to ``path``."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = study.best_trial if complete else None
    results = {
        "study_name": study.study_name,
        "storage": location,
        "direction": study.direction.name.lower(),
        "trials": {
            "finished": _finished(study),
            "complete": len(complete),
            "failed": sum(t.state == TrialState.FAIL for t in counted_trials(study)),
        },
        "best_trial": None if best is None else {
            "number": best.number,
            "value": best.value,
            "params": best.params,
            "job_dir": best.user_attrs.get("job_dir"),
        },
    }
    write_text(path, OmegaConf.to_yaml(OmegaConf.create(results)))
    if best is None:
        print(f"no trial of study '{study.study_name}' completed; results: {path}")
        return
    params = " ".join(f"{name}={value}" for name, value in best.params.items())
    print(f"best trial {best.number} of study '{study.study_name}': value {best.value:.6g} "
          f"with {params or '(no swept parameters)'}\nresults: {path}")


def _finished(study: Study) -> int:
    return len(counted_trials(study))


def _trial_count(storage: Any, study_name: str) -> int:
    """How many trials (any state) the stored study has; 0 for a new study."""
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return 0
    return len(storage.get_all_trials(study_id, deepcopy=False))


@contextmanager
def _as_sweeper_settings() -> Iterator[None]:
    """The sampler and storage factories name ``tune.*`` in errors; here it is hydra.sweeper.*."""
    try:
        yield
    except EngineError as error:
        raise ConfigError(str(error).replace("tune.", "hydra.sweeper.")) from None

