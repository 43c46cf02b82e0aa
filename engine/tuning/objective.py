"""The study's objective: the Pipeline with a trial's parameters, cross-validated fold by fold.

After each fold the running mean of the primary score goes to the pruner, or, pruning on epochs,
the first fold's model gets an ``epoch_callback`` reporting each epoch's loss (see
:mod:`engine.tuning.progress`); it is taken off again after the fit. Every scorer's fold
values are kept on the trial (user attribute ``cv``), so the best trial's CV scores can be
reported beside the refitted model's test scores. Besides scorer names, an objective may be
``fit_time`` (seconds per fold) or ``model_size`` (bytes of the pickled fitted Pipeline), both
minimised. With ``oof_dir`` set (``tune.ensemble``), a completed trial's out-of-fold predictions
are written there for greedy ensemble selection (:mod:`engine.tuning.out_of_fold`).
"""

from __future__ import annotations

import math
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from engine.budget import tree_nodes
from engine.config.schema.tune import COST_OBJECTIVES
from engine.errors import first_line
from engine.evaluation.metrics import MetricSet, unanswered
from engine.evaluation.responses import Responses
from engine.evaluation.scoring import score_responses
from engine.tuning.out_of_fold import assemble, oof_method, write_oof
from engine.tuning.pipeline_space import PipelineSpace
from engine.tuning.progress import EpochReporter, report, resolve_prune_on

if TYPE_CHECKING:
    from optuna.trial import Trial

FIX_MODEL = "fix the model or its search_space"


class TrialFailed(Exception):
    """A trial that cannot give a score (a NaN, a metric the model cannot answer); recorded
    as FAIL with ``fix``, what the user should change."""

    def __init__(self, message: str, fix: str = FIX_MODEL) -> None:
        super().__init__(message)
        self.fix = fix


@dataclass
class CVObjective:
    """Callable objective for ``study.optimize``."""

    pipeline: Pipeline
    X: pd.DataFrame
    y: np.ndarray
    folds: Sequence[tuple[np.ndarray, np.ndarray]]
    metrics: MetricSet
    space: PipelineSpace
    objectives: tuple[str, ...]
    prune_on: str = "auto"
    oof_dir: Path | None = None
    """Where each completed trial's out-of-fold predictions go (None: nowhere)."""

    def __call__(self, trial: Trial) -> float | tuple[float, ...]:
        import optuna

        try:
            return self._evaluate(trial)
        except optuna.TrialPruned:
            raise
        except TrialFailed as error:
            trial.set_user_attr("error", str(error))
            trial.set_user_attr("fix", error.fix)
            raise
        except Exception as error:
            trial.set_user_attr("error", f"{type(error).__name__}: {first_line(error)}")
            trial.set_user_attr("fix", FIX_MODEL)
            raise

    def _evaluate(self, trial: Trial) -> float | tuple[float, ...]:
        pipeline = clone(self.pipeline).set_params(**self.space.suggest(trial))
        self._check_answers_objectives(pipeline)
        # a family without predict_proba (SVC) is scored on what it answers, log loss left out
        answered = self.metrics.answered_by(pipeline)
        method = oof_method(pipeline) if self.oof_dir is not None else None
        out_of_fold: list[tuple[np.ndarray, np.ndarray]] = []
        folds: list[dict[str, float]] = []
        fit_seconds, size = 0.0, 0
        pruning = len(self.objectives) == 1
        prune_on = resolve_prune_on(self.prune_on, pipeline.steps[-1][1],
                                    across_families=len(self.space.families) > 1)
        callback = _epoch_callback_parameter(pipeline) if pruning and prune_on == "epochs" else None
        for number, (train, test) in enumerate(self.folds):
            model = clone(pipeline)
            if callback is not None and number == 0:
                model.set_params(**{callback: EpochReporter(trial)})
            started = time.perf_counter()
            model.fit(self.X.iloc[train], self.y[train])
            fit_seconds += time.perf_counter() - started
            if callback is not None and number == 0:
                model.set_params(**{callback: None})  # the fitted model keeps no trial
            if number == 0 and (nodes := tree_nodes(model)):
                trial.set_user_attr("tree_nodes", nodes)  # what saving it costs (the budget)
            responses = Responses(model, self.X.iloc[test])
            folds.append(score_responses(responses, self.y[test], answered))
            if method is not None:
                out_of_fold.append((test, responses.get(method)[1]))
            primary = float(np.mean([f[self.metrics.primary] for f in folds]))
            if not math.isfinite(primary):
                raise TrialFailed(
                    f"{self.metrics.primary} is {primary} on fold {number} (the model's "
                    "predictions may contain NaN or a single class)"
                )
            if "model_size" in self.objectives and not size:
                size = len(pickle.dumps(model))
            if pruning and prune_on == "folds":
                report(trial, self._running(self.objectives[0], folds, fit_seconds, size), number)
        if self.oof_dir is not None and out_of_fold:
            write_oof(self.oof_dir, trial.number, assemble(out_of_fold, len(self.y)))
        scores = pd.DataFrame(folds)
        trial.set_user_attr("cv", {name: {"mean": float(v.mean()), "std": float(v.std(ddof=0)),
                                          "folds": [float(x) for x in v]}
                                   for name, v in scores.items()})
        trial.set_user_attr("fit_time", fit_seconds / len(self.folds))
        values = {**scores.mean().to_dict(), "fit_time": fit_seconds / len(self.folds),
                  "model_size": float(size)}
        result = tuple(float(values[name]) for name in self.objectives)
        return result[0] if len(result) == 1 else result

    def _check_answers_objectives(self, pipeline: Pipeline) -> None:
        """The trial's model must answer the primary scorer and the objectives; the search
        checks every family up front, so only a drawn parameter (SVC's probability=False) fails
        this."""
        needed = dict.fromkeys((self.metrics.primary, *self.objectives))
        missing = unanswered([n for n in needed if n not in COST_OBJECTIVES], pipeline)
        if missing:
            name, method = next(iter(missing.items()))
            answered = self.metrics.answered_by(pipeline).scorers
            example = f" (e.g. {answered[0]})" if answered else ""
            raise TrialFailed(
                f"{name} needs {method}, which this trial's {type(pipeline[-1]).__name__} "
                "lacks",
                fix=f"choose metrics.primary and tune.objectives that every trial's model "
                    f"answers{example}, or a search_space whose every draw gives {method}",
            )

    @staticmethod
    def _running(objective: str, folds: list[dict[str, float]], fit_seconds: float,
                 size: int) -> float:
        """The objective's value over the folds so far: what the pruner compares."""
        if objective == "fit_time":
            return fit_seconds / len(folds)
        if objective == "model_size":
            return float(size)
        return float(np.mean([fold[objective] for fold in folds]))


def _epoch_callback_parameter(pipeline: Pipeline) -> str | None:
    """``<step>__epoch_callback`` when the Pipeline's model takes an epoch callback, else None."""
    name, model = pipeline.steps[-1]
    return f"{name}__epoch_callback" if "epoch_callback" in model.get_params(deep=False) else None


def objective_direction(name: str) -> Literal["minimize", "maximize"]:
    """Scorers are higher-is-better (losses are ``neg_``); costs are minimised."""
    return "minimize" if name in COST_OBJECTIVES else "maximize"


def trial_pipeline_params(space: PipelineSpace, params: dict[str, Any]) -> dict[str, Any]:
    """``set_params`` keywords that rebuild a finished trial's Pipeline from its ``params``."""
    import optuna

    return space.suggest(optuna.trial.FixedTrial(params))
