"""Progress reports to the running Optuna trial, for pruning.

The CV objective reports the running mean score after each fold. With ``tune.prune_on=epochs``
it hands an iterative estimator (one that declares ``reports_epochs`` and takes an
``epoch_callback``, as the PyTorch ones do) an :class:`EpochReporter` for the first fold, whose
epochs are then the pruner's steps (hyperband's resource); the other folds run to the end
without one. ``auto`` prunes on epochs for a model that declares ``reports_epochs`` and on folds
for any other, and for a search across model families.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from optuna.trial import Trial

@dataclass(frozen=True)
class EpochReporter:
    """An estimator's ``epoch_callback``: each epoch's validation loss goes to ``trial``, negated
    so that higher is better. Raises ``optuna.TrialPruned`` when the study's pruner stops the
    trial."""

    trial: Trial

    def __call__(self, epoch: int, loss: float) -> None:
        report(self.trial, -loss, epoch)

    def __deepcopy__(self, memo: dict[int, Any]) -> EpochReporter:
        # scikit-learn's clone deep-copies parameters; the copy reports to the same trial.
        return self


def resolve_prune_on(prune_on: str, model: object, *, across_families: bool = False) -> str:
    """``auto`` becomes ``epochs`` for a model that reports per epoch, else ``folds``.

    A search across model families prunes on folds: every trial then reports the same score at
    the same steps, where one family's epoch losses and another's fold scores would not compare.
    """
    if prune_on != "auto":
        return prune_on
    if across_families:
        return "folds"
    return "epochs" if getattr(model, "reports_epochs", False) else "folds"


def report(trial: Trial, value: float, step: int) -> None:
    """``value`` (higher is better) at ``step`` to the trial; a non-finite value is skipped.

    Raises ``optuna.TrialPruned`` when the study's pruner stops the trial.
    """
    import optuna

    if not math.isfinite(value):
        return
    trial.report(value, step)
    if trial.should_prune():
        raise optuna.TrialPruned(f"pruned at step {step} with value {value:.6g}")
