"""Greedy ensemble selection (Caruana et al. 2004) over the best trials' out-of-fold predictions.

As AutoGluon's WeightedEnsemble: starting empty, each of ``tune.ensemble.rounds`` rounds adds,
with replacement, the trial whose addition gives the best primary score of the averaged
predictions (so the first round picks the best single trial); a trial's weight is the share of
rounds that picked it. Ties go to the better-ranked trial.

Selecting weights on the rows that then score them is optimistic: the selection fits their
noise. So the ensemble's CV scores are nested: for each fold, weights are selected on the other
folds' out-of-fold rows and score that fold's rows, exactly as a model's CV score is measured on
rows its fit never saw. The ensemble is used only when that nested mean beats the CV mean of the
trial the search picked (picked among all trials on all folds, so the comparison leans towards
the single model), and keeps at least two members. Its final weights are selected on all rows.

Weights are selected on at most ``SELECTION_ROWS`` of the rows they may see (a seeded sample,
each class keeping its share): a primary score of 39,000 rows costs 12.7 ms against 1.6 ms for
800 (ROC AUC, measured on the 2-core machine), and the selection scores thousands of blends. The
scores it reports are computed on every row.

Under a ``budget`` the candidates are the best trials whose refits and saving (a forest's trees:
:data:`engine.budget.SAVE_SECONDS_PER_NODE` a node) fit the time left once the picked trial's
own stages are reserved (:func:`within_budget`); the others are left out and the line says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.pipeline import Pipeline

from engine.budget import SAVE_SECONDS_PER_NODE, refit_scale, reserve_seconds
from engine.config.spec import ExperimentSpec
from engine.data.splits import seeded_sample
from engine.evaluation.metrics import MetricSet
from engine.evaluation.responses import Responses
from engine.evaluation.scoring import CVScores, score_responses
from engine.models.ensemble import ensemble_pipeline
from engine.models.pipeline import build_pipeline
from engine.tuning.objective import trial_pipeline_params
from engine.tuning.out_of_fold import oof_directory, read_oof
from engine.tuning.pipeline_space import space_for
from engine.tuning.storage import open_storage


@dataclass(frozen=True)
class EnsembleChoice:
    """Whether the ensemble is used, its Pipeline and nested CV scores if so, and the record
    (members, weights, both CV scores, the decision and why)."""

    record: dict[str, Any]
    pipeline: Pipeline | None = None
    cv: dict[str, Any] | None = None

    @property
    def line(self) -> str:
        """One line saying what was decided."""
        record = self.record
        if "weights" not in record:
            return f"ensemble: not built: {record['reason']}"
        weights = sorted(record["weights"].items(), key=lambda item: -item[1])
        members = " ".join(f"{number}:{weight:.2f}" for number, weight in weights)
        score = record.get("ensemble_cv", record["in_sample_cv"])
        late = record.get("left_out_for_budget")
        left_out = (f" (trials {', '.join(map(str, late))} left out: their refits and saving "
                    "would not fit the budget)" if late else "")
        return (f"ensemble of trials {members}: {record['primary']} {score:.4f} vs "
                f"{record['best_single_cv']:.4f} for trial {record['best_single']}: "
                f"{'used' if record['chosen'] else 'not used'}, {record['reason']}{left_out}")


SELECTION_ROWS = 5_000
"""Rows the greedy selection scores its candidate blends on, at most."""
SCORE_SECONDS = 0.003
"""A primary score of a blend of ``SELECTION_ROWS`` rows, about (ROC AUC: 1.6 ms for 800 rows,
12.7 ms for 39,000, on the 2-core machine)."""
ENSEMBLE_REFITS = 5
"""Members whose refit a budget reserves: the selection rarely keeps more."""


def selection_seconds(size: int, rounds: int, folds: int) -> float:
    """What choosing an ensemble of ``size`` trials may take at most: each round scores every
    trial, on all rows and again within each fold's nested selection."""
    return SCORE_SECONDS * size * rounds * (1 + folds)


class BlendScorer:
    """The run's scorers on averaged predictions of chosen training rows, scored exactly as the
    run scores a model (a stand-in answers with the given predictions)."""

    def __init__(self, y: np.ndarray, task: str, metrics: MetricSet) -> None:
        self.y, self.metrics, self.classifier = y, metrics, task != "regression"
        stand_in = DummyClassifier() if self.classifier else DummyRegressor()
        self.stand_in = stand_in.fit(np.zeros((len(y), 1)), y)

    def scores(self, blend: np.ndarray, rows: np.ndarray, metrics: MetricSet | None = None
               ) -> dict[str, float]:
        if self.classifier:
            labels = self.stand_in.classes_[np.argmax(blend, axis=1)]
            given = {"predict_proba": blend, "predict": labels}
        else:
            given = {"predict": blend}
        return score_responses(Responses(self.stand_in, None, given), self.y[rows],
                               metrics or self.metrics)

    def selection_rows(self, rows: np.ndarray) -> np.ndarray:
        """At most ``SELECTION_ROWS`` of ``rows`` (sorted; a fixed seed; by class for a
        classifier), for the greedy selection to score blends on."""
        strata = self.y[rows] if self.classifier else None
        return rows[seeded_sample(len(rows), SELECTION_ROWS, 0, strata=strata)]

    def primary(self, blend: np.ndarray, rows: np.ndarray) -> float:
        """The primary score alone, without scikit-learn re-validating the arguments of each
        of the selection's many calls (the predictions come from fitted models)."""
        primary = self.metrics.primary
        with config_context(skip_parameter_validation=True):
            return self.scores(blend, rows, MetricSet(primary, (primary,)))[primary]


def greedy_weights(predictions: Sequence[np.ndarray], score: Callable[[np.ndarray], float],
                   rounds: int) -> np.ndarray:
    """Caruana's selection with replacement: each round adds the candidate whose addition to
    the running average scores best (higher is better; ties to the earlier candidate). The
    weights are each candidate's share of the rounds."""
    counts = np.zeros(len(predictions))
    total = np.zeros_like(predictions[0], dtype=float)
    for size in range(1, rounds + 1):
        scores = [score((total + candidate) / size) for candidate in predictions]
        pick = int(np.argmax(scores))
        counts[pick] += 1
        total += predictions[pick]
    return counts / rounds


def blend(predictions: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    return np.tensordot(weights, np.stack(predictions), axes=1)


def nested_cv(predictions: Sequence[np.ndarray], folds: Sequence[tuple[np.ndarray, np.ndarray]],
              scorer: BlendScorer, rounds: int) -> CVScores:
    """Every scorer on each fold's rows, with weights selected on the other folds' rows."""
    held_out = np.concatenate([test for _, test in folds])
    per_fold = []
    for _, test in folds:
        others = scorer.selection_rows(np.setdiff1d(held_out, test))
        weights = greedy_weights([p[others] for p in predictions],
                                 partial(scorer.primary, rows=others), rounds)
        per_fold.append(scorer.scores(blend([p[test] for p in predictions], weights), test))
    return CVScores(pd.DataFrame(per_fold).rename_axis("fold"))


@dataclass(frozen=True)
class Decision:
    """The selection's weights by trial number and scores (``record``), and the ensemble's
    nested CV scores when it is used (None when it is not)."""

    record: dict[str, Any]
    cv: dict[str, Any] | None = None


def decide(predictions: Sequence[np.ndarray], numbers: Sequence[int],
           folds: Sequence[tuple[np.ndarray, np.ndarray]], scorer: BlendScorer, *, rounds: int,
           single: float) -> Decision:
    """Select weights over the trials' out-of-fold ``predictions`` (trial ``numbers``, best
    first) on all held-out rows, and use them only when the ensemble keeps two members and its
    nested CV mean beats ``single``, the best single trial's CV mean. Nested CV is skipped when
    even the optimistic in-sample mean (the weights scored on the rows that selected them)
    does not beat it."""
    selecting = scorer.selection_rows(np.concatenate([test for _, test in folds]))
    weights = greedy_weights([p[selecting] for p in predictions],
                             partial(scorer.primary, rows=selecting), rounds)
    combined = blend(predictions, weights)
    record: dict[str, Any] = {
        "considered": list(numbers),
        "weights": {numbers[int(i)]: float(weights[i]) for i in np.flatnonzero(weights)},
        "in_sample_cv": float(np.mean([scorer.primary(combined[test], test)
                                       for _, test in folds]))}
    if len(record["weights"]) == 1:
        return Decision({**record, "chosen": False,
                         "reason": "the selection kept one trial alone"})
    if record["in_sample_cv"] <= single:
        return Decision({**record, "chosen": False, "reason": "it does not beat the best "
                         "single trial even on the rows that selected it"})
    cv = nested_cv(predictions, folds, scorer, rounds).summary()
    primary = scorer.metrics.primary
    chosen = cv[primary]["mean"] > single
    record.update(ensemble_cv=cv[primary]["mean"], ensemble_cv_folds=cv[primary]["folds"],
                  chosen=chosen, reason=f"it {'beats' if chosen else 'does not beat'} the best "
                  "single trial in nested CV")
    return Decision(record, cv if chosen else None)


def choose_ensemble(spec: ExperimentSpec, *, X: pd.DataFrame, y: np.ndarray,
                    folds: list[tuple[np.ndarray, np.ndarray]], task: str, metrics: MetricSet,
                    search: dict[str, Any]) -> EnsembleChoice:
    """Build the ensemble of the study's best trials (``search`` is the search's record) and
    keep it only if its nested CV beats the picked trial's CV; see the module's docstring. The
    record's ``seconds`` is the selection's time (the refit comes later, with the run's)."""
    started = time.perf_counter()
    choice = _choose(spec, X=X, y=y, folds=folds, task=task, metrics=metrics, search=search)
    choice.record["seconds"] = time.perf_counter() - started
    return choice


def _choose(spec: ExperimentSpec, *, X: pd.DataFrame, y: np.ndarray,
            folds: list[tuple[np.ndarray, np.ndarray]], task: str, metrics: MetricSet,
            search: dict[str, Any]) -> EnsembleChoice:
    settings, primary = spec.tune.ensemble, metrics.primary
    studies_dir = Path(spec.tune.studies_dir)
    directory = oof_directory(spec.tune, studies_dir, search["study_name"])
    assert directory is not None  # called only with tune.ensemble.size set
    trials = _ranked_trials(spec, search["study_name"], studies_dir, primary)
    picked = next(t for t in trials if t.number == search["best_trial"])
    record: dict[str, Any] = {**settings.model_dump(), "primary": primary,
                              "best_single": picked.number,
                              "best_single_cv": picked.user_attrs["cv"][primary]["mean"]}
    within, late = within_budget(spec, trials[:settings.size], picked, folds, n_rows=len(y))
    kept = [(t, oof) for t in within
            if (oof := read_oof(directory, t.number)) is not None and len(oof) == len(y)]
    if late:
        record["left_out_for_budget"] = [t.number for t in late]
    if len(kept) < 2:
        return EnsembleChoice({**record, "chosen": False, "reason": (
            f"the refits and saving of trials {', '.join(str(t.number) for t in late)} would "
            f"not fit the budget left; {len(kept)} trial(s) would, it needs two" if late else
            f"{len(kept)} of the {min(len(trials), settings.size)} best trials kept out-of-fold "
            "predictions (a classifier without predict_proba keeps none); it needs two")})
    members = [t for t, _ in kept]
    decision = decide([oof for _, oof in kept], [t.number for t in members], folds,
                      BlendScorer(y, task, metrics), rounds=settings.rounds,
                      single=record["best_single_cv"])
    record.update(decision.record)
    if decision.cv is None:
        return EnsembleChoice(record)
    columns = list(X.columns)
    space = space_for(spec, task, spec.candidates, columns)
    start = build_pipeline(spec, task, columns)  # each member built as its trial built it
    used = [t for t in members if t.number in decision.record["weights"]]
    pipelines = [clone(start).set_params(**trial_pipeline_params(space, t.params)) for t in used]
    return EnsembleChoice(record, ensemble_pipeline(pipelines,
                                                    list(decision.record["weights"].values()),
                                                    classifier=task != "regression"),
                          decision.cv)


def within_budget(spec: ExperimentSpec, trials: list[Any], picked: Any,
                  folds: list[tuple[np.ndarray, np.ndarray]], *, n_rows: int
                  ) -> tuple[list[Any], list[Any]]:
    """``trials`` (best first) split into those whose refits, saving and share of the selection
    fit the budget's time left after the picked trial's own (already reserved by the search), in
    rank order, and those left out. Without a budget, all of them fit."""
    budget = spec.budget
    if budget is None:
        return trials, []
    scale = refit_scale(n_rows, [len(train) for train, _ in folds],
                        refits_on_folds=spec.metrics.fits_on_folds)

    def cost(trial: Any) -> float:
        """Fold-fit seconds and the trees' saving, both scaled to a refit on every row."""
        return scale * (trial.user_attrs.get("fit_time", 0.0)
                        + trial.user_attrs.get("tree_nodes", 0) * SAVE_SECONDS_PER_NODE)

    scoring = selection_seconds(1, spec.tune.ensemble.rounds, len(folds))  # per candidate
    left = (budget.end - time.time() - cost(picked) - scoring
            - reserve_seconds(budget, picked.user_attrs.get("fit_time", 0.0), scale))
    within, late = [], []
    for trial in trials:
        if trial.number == picked.number:
            within.append(trial)
        elif cost(trial) + scoring <= left:
            within.append(trial)
            left -= cost(trial) + scoring
        else:
            late.append(trial)
    return within, late


def _ranked_trials(spec: ExperimentSpec, study_name: str, studies_dir: Path,
                   primary: str) -> list[Any]:
    """The study's completed trials, best primary CV mean first."""
    import optuna

    study = optuna.load_study(study_name=study_name,
                              storage=open_storage(spec.tune.storage, study_name, studies_dir))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    return sorted(complete, key=lambda t: -t.user_attrs["cv"][primary]["mean"])
