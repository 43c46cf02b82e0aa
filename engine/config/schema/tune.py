"""``tune``: the search's sampler, pruner, budget, workers, storage and objectives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from engine.config.schema.base import Fraction, Positive, Section
from engine.errors import ConfigError, did_you_mean
from engine.tuning.storage import check_study_name

Method = Literal["none", "tpe", "random", "cmaes", "gp", "qmc", "grid", "nsga2"]
Pruner = Literal["auto", "none", "median", "successive_halving", "hyperband"]
PruneOn = Literal["auto", "folds", "epochs"]
# tune.method -> Optuna sampler class name; tune.pruner -> Optuna pruner class name.
SAMPLERS = {"tpe": "TPESampler", "random": "RandomSampler", "cmaes": "CmaEsSampler",
            "gp": "GPSampler", "qmc": "QMCSampler", "grid": "GridSampler",
            "nsga2": "NSGAIISampler"}
PRUNERS = {"none": "NopPruner", "median": "MedianPruner",
           "successive_halving": "SuccessiveHalvingPruner", "hyperband": "HyperbandPruner"}
MULTI_OBJECTIVE = ("random", "tpe", "nsga2", "gp")
COST_OBJECTIVES = ("fit_time", "model_size")
# Options the engine sets itself; a user setting them would be ignored, so they are refused.
ENGINE_SET = ("seed", "search_space")
StudyName = Annotated[str, AfterValidator(check_study_name)]
"""A study name is also a file name."""


class Pick(Section):
    """With several objectives: the Pareto trial to refit (the best ``objective`` among those
    within ``within`` of the best first objective)."""

    objective: str | None = None
    within: Annotated[float, Field(ge=0.0)] = 0.0
    """e.g. {objective: fit_time, within: 0.005} refits the fastest Pareto trial within 0.005
    of the best first objective."""


class Ensemble(Section):
    """Greedy ensemble selection (Caruana et al. 2004) over the best trials' out-of-fold
    predictions, kept only when it beats the best single trial in CV."""

    size: Annotated[int, Field(ge=0)] = 0
    """The top trials considered (0: no ensemble)."""
    rounds: Positive = 25
    """Greedy rounds, each adding one member (with replacement) to the ensemble."""


class TuneConfig(Section):
    """What to search with, for how long, where the study lives and what to optimise."""

    method: Method = "none"
    """none | tpe | random | cmaes | gp | qmc | grid | nsga2."""
    n_trials: Positive | None = None
    """The study's total trials (a resumed study counts those it has)."""
    timeout: Annotated[float, Field(gt=0.0)] | None = None
    """Seconds of search; with n_trials, whichever runs out first; with the command's
    `budget`, the smaller limit wins."""
    n_jobs: Positive = 1
    """Worker processes sharing the study (each loads the data once)."""
    study_name: StudyName | None = None
    """null: a new study per run; name it to resume it on a rerun."""
    storage: str | None = None
    """null: journal file <studies_dir>/<study_name>.journal; sqlite; a path ending in
    .journal; or a URL (postgresql+psycopg://...)."""
    studies_dir: str = "outputs/studies"
    """Where journal files go; a tune file that leaves it out keeps them under the run's
    paths.output_dir."""
    pruner: Pruner = "auto"
    """auto | none | median | successive_halving | hyperband. auto: median (prunes a trial whose
    running CV mean after a fold is below the median of earlier trials' at that fold, after 5
    trials) with one objective, none with several (Optuna cannot prune those)."""
    pruner_options: dict[str, Any] | None = None
    """Keyword arguments of the Optuna pruner, e.g. {n_startup_trials: 5}."""
    prune_on: PruneOn = "auto"
    """folds: the running CV mean after each fold; epochs: an iterative model's per-epoch score
    in the first fold (hyperband's resource); auto: epochs for a model that reports epochs."""
    sampler_options: dict[str, Any] | None = None
    """Keyword arguments of the Optuna sampler, e.g. {n_startup_trials: 10}."""
    objectives: list[str] | None = None
    """Several objectives, e.g. [roc_auc, fit_time]; null: the primary metric."""
    pick: Pick = Pick()
    """With several objectives: the Pareto trial to refit."""
    max_failure_fraction: Fraction = 0.5
    """Stop with an error when more than this share of trials (of 5+) fail."""
    models: list[str] | None = None
    """Search across model configs too, e.g. [logistic_regression, hist_gbm]."""
    plots: bool = True
    """Optimisation history, importances, parallel coordinates (PNG)."""
    auto: bool = False
    """Fit the search to the task and the table once the data is loaded (tune=auto sets it):
    the models that suit them, a worker per core, a trial count when nothing else bounds it."""
    ensemble: Ensemble = Ensemble()
    """e.g. {size: 10, rounds: 25}: an ensemble of the 10 best trials, used when it wins."""

    @property
    def searching(self) -> bool:
        return self.method != "none"

    @model_validator(mode="before")
    @classmethod
    def _auto_pruner(cls, values: Any) -> Any:
        """``pruner: auto`` (or null) of a search becomes median with one objective, none with
        several, so the run records the pruner it used."""
        if not isinstance(values, dict) or values.get("pruner") not in (None, "auto") or \
                values.get("method") in (None, "none"):
            return values
        objectives = values.get("objectives")
        several = isinstance(objectives, list) and len(objectives) > 1
        return {**values, "pruner": "none" if several else "median"}

    @model_validator(mode="after")
    def _rules(self) -> TuneConfig:
        from engine.config.schema.rules import check_name, refuse

        if not self.searching:
            return self
        objectives = self.objectives or []
        if len(objectives) > 1 and self.pruner != "none":
            refuse(f"tune.pruner={self.pruner}: Optuna cannot prune a search over several "
                   "objectives; set tune.pruner=none.")
        if len(objectives) > 1 and self.method not in MULTI_OBJECTIVE:
            refuse(f"tune.method={self.method}: cannot search {len(objectives)} objectives at "
                   f"once. Use one of {', '.join(MULTI_OBJECTIVE)} (nsga2 is made for it).")
        if objectives:
            from sklearn.metrics import get_scorer_names

            for name in objectives:
                check_name("tune.objectives", name,
                           ["auto", *get_scorer_names(), *COST_OBJECTIVES],
                           "is neither a scikit-learn scorer name, auto, nor a cost",
                           f"Costs: {', '.join(COST_OBJECTIVES)}.")
        if self.ensemble.size and len(objectives) > 1:
            refuse(f"tune.ensemble.size={self.ensemble.size}: an ensemble is chosen on the "
                   "primary metric alone, not on several objectives; set tune.ensemble.size=0 "
                   "or search one objective.")
        _check_options(self.method, self.sampler_options, "sampler", SAMPLERS)
        _check_options(self.pruner, self.pruner_options, "pruner", PRUNERS)
        return self

    def check_pick(self, primaries: Sequence[str]) -> None:
        """``pick.objective`` is one of the objectives, ``auto`` read as the primary metric
        (``primaries``: each task's while the data has not said the task; the run checks again
        with the data's). A ConfigError, which validation passes through as it is."""
        wanted, written = self.pick.objective, self.objectives or ["auto"]
        valid = [n for o in written for n in (primaries if o == "auto" else [o])]
        if wanted is not None and wanted not in valid:
            raise ConfigError(f"tune.pick.objective: {wanted!r} is not one of this run's "
                              f"objectives {valid if len(primaries) == 1 else written}."
                              f"{did_you_mean(wanted, valid)}")


def checked_options(options: Mapping[str, Any] | None, cls: type, key: str) -> dict[str, Any]:
    """``options`` for the Optuna sampler or pruner ``cls``: each one of its keywords, none the
    engine sets itself. Used by the schema and by the Hydra sweeper's own settings."""
    from engine.config.binding import check_parameters

    options = dict(options or {})
    for option in options:
        if option in ENGINE_SET:
            raise ConfigError(f"{key}.{option}: the engine sets '{option}' itself (from `seed` "
                              "and the model's search_space); remove it.")
    check_parameters(cls, options, key)
    return options


def _check_options(name: str, options: dict[str, Any] | None, kind: str,
                   classes: dict[str, str]) -> None:
    """Each of ``tune.<kind>_options`` is a keyword of the Optuna class ``name`` means, with a
    value it accepts."""
    if not options:
        return
    import optuna

    from engine.config.schema.rules import refuse
    from engine.errors import first_line

    key = f"tune.{kind}_options"
    if name == "none":
        refuse(f"{key}: tune.{'method' if kind == 'sampler' else kind} is none, which takes no "
               f"options; remove {key} or pick a {kind}.")
    module = optuna.samplers if kind == "sampler" else optuna.pruners
    cls = getattr(module, classes[name])
    checked_options(options, cls, key)
    if name != "grid":  # the grid sampler is built with the search space, in the run
        try:
            cls(**options)
        except (TypeError, ValueError) as error:
            refuse(f"{key}: {cls.__name__} refuses {options}: {first_line(error)}.")
