"""When the search must stop: ``tune.timeout`` after it began, or the command's ``budget`` less a
reserve for the stages after the search, whichever comes first.

The reserve is re-estimated from the study's trials (:func:`engine.budget.reserve_seconds`), so
every worker, spawned or not, reads the same deadline from the shared study. Until one trial has
completed and every model's defaults trial (:mod:`engine.tuning.enqueue`) has finished, there is
no deadline: a run always has a model to refit, never worse in CV than the defaults, even when
the budget was too small for them (the run then says it overran).

Workers stop starting trials when less than one typical trial's fold is left; a running trial
is pruned after a fold when the next fold would end past the deadline
(:class:`DeadlinePruner`).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from optuna.pruners import BasePruner

from engine.budget import SAVE_SECONDS_PER_NODE, Budget, reserve_seconds

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial


MEMBERS_SHARE = 0.1
"""Most of the budget kept for an ensemble's members beside the best trial."""


@dataclass(frozen=True)
class SearchDeadline:
    """The search's end: ``timeout_end`` (``tune.timeout``), ``budget``'s end less the reserve,
    the earlier. ``refit_scale``: a refit's cost in fold fits; ``folds``: CV folds per trial."""

    timeout_end: float | None
    budget: Budget | None
    refit_scale: float
    folds: int
    refits: int = 1
    """The best trials whose refits the reserve counts: one, or an ensemble's members."""
    selection_seconds: float = 0.0
    """Seconds reserved for choosing the ensemble after the search (0 without one)."""

    @property
    def limited(self) -> bool:
        return self.timeout_end is not None or self.budget is not None

    def at(self, study: optuna.Study) -> float:
        """The deadline (``time.time()``) as the study's trials so far say; inf before the first
        trial has completed, and while a defaults trial has not finished."""
        complete = _complete(study)
        if not complete or not self.limited or _defaults_pending(study):
            return float("inf")
        ends = [] if self.timeout_end is None else [self.timeout_end]
        if self.budget is not None:
            best = _refit_fold_seconds(study, complete, 1)
            save = _save_seconds(study, complete, 1)
            # The ensemble's other members: the next best trials' refits and trees, at most
            # MEMBERS_SHARE of the budget (the selection takes the members that fit the time
            # left: engine.tuning.ensemble_selection), as reserving every forest's whole saving
            # ended runs up to 17 s early when no ensemble won.
            members = (_refit_fold_seconds(study, complete, self.refits) - best
                       + _save_seconds(study, complete, self.refits) - save) * self.refit_scale
            ends.append(self.budget.end - self.selection_seconds
                        - min(members, MEMBERS_SHARE * self.budget.seconds)
                        - save * self.refit_scale
                        - reserve_seconds(self.budget, best, self.refit_scale))
        return min(ends)

    def fold_seconds(self, study: optuna.Study) -> float:
        """A typical fold's seconds: the median completed trial's duration over its folds."""
        durations = [t.duration.total_seconds() for t in _complete(study) if t.duration]
        return statistics.median(durations) / self.folds if durations else 0.0

    def spent(self, study: optuna.Study) -> bool:
        """Whether a worker must start no more trials: less than one fold's time is left."""
        return time.time() + self.fold_seconds(study) > self.at(study)


class DeadlinePruner(BasePruner):
    """The configured pruner, and a stop after a fold when the next fold would end past the
    deadline. Optuna calls ``prune`` when the objective reports a fold (one objective only)."""

    def __init__(self, pruner: BasePruner, deadline: SearchDeadline) -> None:
        self.pruner = pruner
        self.deadline = deadline

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        if self.pruner.prune(study, trial):
            return True
        steps = len(trial.intermediate_values)
        if not steps or trial.datetime_start is None:
            return False
        now = time.time()
        per_step = (now - trial.datetime_start.timestamp()) / steps
        return now + per_step > self.deadline.at(study)


def _defaults_pending(study: optuna.Study) -> bool:
    """Whether a model's defaults trial is still waiting or running."""
    return any(t.user_attrs.get("start") == "defaults" and not t.state.is_finished()
               for t in study.get_trials(deepcopy=False))


def _complete(study: optuna.Study) -> list[FrozenTrial]:
    return [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]


def _refit_fold_seconds(study: optuna.Study, complete: list[FrozenTrial], refits: int) -> float:
    """The mean fit seconds per fold of what the refit will likely fit: the best trial with one
    objective (the ``refits`` best together, for an ensemble's members), the slowest of the
    completed ones with several."""
    return _likely_refit(study, complete, refits, "fit_time")


def _save_seconds(study: optuna.Study, complete: list[FrozenTrial], refits: int) -> float:
    """Seconds saving a fold's model of what the refit will likely fit takes: its trees' nodes
    (:data:`engine.budget.SAVE_SECONDS_PER_NODE` each; 0 for a model without trees)."""
    return _likely_refit(study, complete, refits, "tree_nodes") * SAVE_SECONDS_PER_NODE


def _likely_refit(study: optuna.Study, complete: list[FrozenTrial], refits: int,
                  attribute: str) -> float:
    """The sum of a trial's ``attribute`` over the ``refits`` best completed trials with one
    objective; its largest value with several (any of them may be picked)."""
    values: list[Any] = [t.user_attrs.get(attribute, 0.0) for t in complete]
    if len(study.directions) > 1:
        return float(max(values))
    best = sorted(complete, key=lambda t: float(t.values[0]),
                  reverse=study.direction.name == "MAXIMIZE")
    return float(sum(t.user_attrs.get(attribute, 0.0) for t in best[:refits]))
