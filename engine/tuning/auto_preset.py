"""``tune=auto``: the search fitted to the task and the table once the data is loaded.

``conf/tune/auto.yaml`` names every candidate family and turns the ensemble on; here, with the
task and the table's size known, the run keeps the families that suit them and sets what the
user left open:

- **families**: those with an estimator for the task (``logistic_regression`` for classes,
  ``ridge`` for numbers); ``extra_trees`` only up to ``LARGE_ROWS`` training rows (its fits
  grow fastest with the rows); ``mlp`` only with a budget of ``MLP_BUDGET`` seconds or more;
- **workers**: under a wall limit (``budget`` or ``tune.timeout``), one per available core when
  ``tune.n_jobs`` is 1 (each worker's model gets a share of the threads, so they never
  oversubscribe the cores); without one, a single worker, so that the same seed gives the same
  trials;
- **trials**: ``DEFAULT_TRIALS`` when neither ``budget``, ``tune.timeout`` nor
  ``tune.n_trials`` bounds the search.

The first trials are each family's defaults and a cheap variant (``engine.tuning.enqueue``),
trials are pruned on folds, and the ensemble of the best trials is kept only when it wins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine.config.spec import ExperimentSpec, ModelSpec
from engine.data.dataset import Dataset
from engine.errors import ConfigError
from engine.threads import available_cores

LARGE_ROWS = 100_000
"""Above this many rows, extra_trees is left out."""
MLP_BUDGET = 600.0
"""Seconds of budget from which the PyTorch MLP is a candidate."""
DEFAULT_TRIALS = 40
"""Trials of a search nothing else bounds."""


@dataclass(frozen=True)
class AutoChoice:
    """The adapted spec and one line saying what was chosen and why."""

    spec: ExperimentSpec
    line: str


def adapt_search(spec: ExperimentSpec, data: Dataset) -> AutoChoice:
    """``spec`` with the candidates, workers and trial count ``tune=auto`` picks for ``data``."""
    family = "classification" if data.is_classification else "regression"
    rows = len(data.X)
    budget = spec.budget.seconds if spec.budget is not None else None
    left_out: dict[str, str] = {}
    kept: dict[str, ModelSpec] = {}
    for name, model in spec.candidates.items():
        reason = _left_out_because(name, model, family, rows, budget)
        if reason:
            left_out[name] = reason
        else:
            kept[name] = model
    if not kept:
        raise ConfigError(f"tune.models: none of {sorted(spec.candidates)} fits a {data.task} "
                          "task; name at least one model config with a "
                          f"{family} estimator.")
    tune = spec.tune
    update: dict[str, object] = {"models": list(kept)}
    timed = budget is not None or tune.timeout is not None
    if tune.n_jobs == 1 and timed:
        update["n_jobs"] = available_cores()
    if not timed and tune.n_trials is None:
        update["n_trials"] = DEFAULT_TRIALS
    adapted = replace(spec, candidates=kept, tune=tune.model_copy(update=update))
    return AutoChoice(adapted, _line(adapted, left_out))


def _left_out_because(name: str, model: ModelSpec, family: str, rows: int,
                      budget: float | None) -> str | None:
    if family not in model.targets:
        return f"no {family} estimator"
    if name == "extra_trees" and rows > LARGE_ROWS:
        return f"over {LARGE_ROWS:,} rows"
    if name == "mlp" and (budget is None or budget < MLP_BUDGET):
        return f"a budget under {MLP_BUDGET:.0f} s"
    return None


def _line(spec: ExperimentSpec, left_out: dict[str, str]) -> str:
    tune = spec.tune
    bound = (f"{tune.n_trials} trials" if tune.n_trials is not None
             else "the budget" if spec.budget is not None else f"{tune.timeout:g} s")
    ensemble = (f"an ensemble of the best {tune.ensemble.size} trials if it wins"
                if tune.ensemble.size else "no ensemble")
    line = (f"tune=auto: {', '.join(spec.candidates)} searched by {tune.n_jobs} worker(s) "
            f"until {bound}; {ensemble}")
    if left_out:
        line += "; left out: " + ", ".join(f"{name} ({why})" for name, why in left_out.items())
    return line
