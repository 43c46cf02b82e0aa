"""The hook through which training reports progress to the running Optuna trial, for pruning.

The CV objective reports the running mean score after each fold. An iterative estimator (the
PyTorch one reports after each epoch) calls :func:`report_progress` instead; outside a search it
does nothing, so the same estimator trains unchanged in a plain run. With ``tune.prune_on=epochs``
the epochs of the first fold are the pruner's steps (hyperband's resource); the other folds run
to the end. ``auto`` prunes on epochs for a model that declares ``reports_epochs`` and on folds
for any other, and for a search across model families.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optuna.trial import Trial

PRUNE_ON = ("auto", "folds", "epochs")


@dataclass
class _Listener:
    trial: Trial
    prune_on: str
    fold: int = 0


_listener: ContextVar[_Listener | None] = ContextVar("engine_trial_listener", default=None)


def report_progress(value: float, step: int) -> None:
    """Report an estimator's validation score after epoch ``step`` (higher is better).

    Raises ``optuna.TrialPruned`` when the study's pruner stops the trial; a no-op outside a
    search or when the search prunes on folds.
    """
    listener = _listener.get()
    if listener is None or listener.prune_on != "epochs" or listener.fold != 0:
        return
    _report(listener.trial, value, step)


def report_fold(running_mean: float, fold: int) -> None:
    """The CV objective's report after each fold (when pruning on folds)."""
    listener = _listener.get()
    if listener is None:
        return
    listener.fold = fold + 1
    if listener.prune_on == "folds":
        _report(listener.trial, running_mean, fold)


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


@contextmanager
def listening(trial: Trial | None, prune_on: str) -> Iterator[None]:
    """Route reports made while the block runs to ``trial``."""
    token = _listener.set(_Listener(trial, prune_on) if trial is not None else None)
    try:
        yield
    finally:
        _listener.reset(token)


def _report(trial: Trial, value: float, step: int) -> None:
    import optuna

    if not math.isfinite(value):
        return
    trial.report(value, step)
    if trial.should_prune():
        raise optuna.TrialPruned(f"pruned at step {step} with value {value:.6g}")
