"""``budget=<seconds>``: one wall budget for the whole command.

The budget counts from the start of the command's work (the process's start for a single run,
the job's start in a sweep). Loading, checks and planning are spent first; the search gets what
is left minus a reserve for the stages after it, re-estimated after each trial from what the
trials measured (:func:`reserve_seconds`):

- the refit: the best trial's mean fit seconds per fold, scaled by rows from a fold's training
  rows to all of them (times ``1 + folds`` when calibration or a threshold refit on folds too);
- saving the trees a scikit-learn forest grew: ``SAVE_SECONDS_PER_NODE`` a node, counted on
  each trial's first fold (:func:`tree_nodes`) and scaled like the refit;
- evaluation, explanations, saving and the report: ``EVALUATE_PER_FIT`` refits (measured on
  adult with hist_gbm: the held-out evaluation took about three times the refit), plus
  ``FLOOR_SECONDS`` (grown with the machine's load) and ``SHARE`` of the budget for writing, the
  report and the process's exit.

A run without a search cannot be shortened: when it overruns, it says so (:func:`overrun_note`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

EVALUATE_PER_FIT = 3.0
"""Seconds of evaluation, explanation and saving per second of refit."""
FLOOR_SECONDS = 3.0
"""Seconds always kept for saving the run directory (bundle, reference profile, card, the search's
plots drawn meanwhile), the report and the process's exit on a quiet machine (2.3 s and 0.5 s
measured on 2 cores for breast_cancer's 569 rows); times the machine's load (:func:`busy`), as
they took 6-10 s with 6 processes busy on the 2 cores."""
MOST_BUSY = 4.0
"""The floor grows with the load up to this factor."""
SAVE_SECONDS_PER_NODE = 10e-6
"""Seconds skops takes to write one node of a scikit-learn tree into the bundle (8.8-11.3 us
measured on 2 cores for forests of 300-2,200 trees): an ensemble of four extra-trees forests on
german_credit's 800 rows (1.1 million nodes) took 9.9 s to save, more than its search's reserve.
Boosting libraries write their own model files, HistGradientBoosting an array per tree: both
fast."""
MAX_DEPTH = 8
"""How deep :func:`tree_nodes` looks into an estimator's attributes."""
SHARE = 0.02
"""Share of the budget kept besides: the run may end this much early rather than late."""
STAGES = (("startup_seconds", "start"), ("prepare_seconds", "prepare"),
          ("tune_seconds", "search"), ("cv_seconds", "cv"), ("fit_seconds", "refit"),
          ("evaluate_seconds", "evaluate"), ("save_seconds", "save"),
          ("report_seconds", "report"))
"""run.json's timing laps, as the budget line names them."""


@dataclass(frozen=True)
class Budget:
    """The whole command's ``seconds``, counted from ``started`` (``time.time()``; None until
    the run begins it)."""

    seconds: float
    started: float | None = None
    floor: float = FLOOR_SECONDS
    """Seconds kept for saving and exiting, grown with the machine's load when begun."""

    def begun(self, at: float) -> Budget:
        """This budget counted from ``at``, its floor grown with the machine's load now."""
        return replace(self, started=at, floor=FLOOR_SECONDS * busy())

    @property
    def end(self) -> float:
        """When the command must have ended (``time.time()``)."""
        return (time.time() if self.started is None else self.started) + self.seconds

    @property
    def kept(self) -> float:
        """Seconds kept in any case after the search: the floor and the budget's share."""
        return self.floor + SHARE * self.seconds


def reserve_seconds(budget: Budget, fold_fit_seconds: float, refit_scale: float) -> float:
    """Seconds the stages after the search need: the refit (a trial's mean ``fold_fit_seconds``
    times ``refit_scale``), ``EVALUATE_PER_FIT`` times it, and what ``budget`` keeps."""
    refit = fold_fit_seconds * refit_scale
    return refit * (1.0 + EVALUATE_PER_FIT) + budget.kept


def tree_nodes(estimator: Any, depth: int = 0) -> int:
    """The nodes of every scikit-learn tree ``estimator`` holds once fitted (a forest's, an
    ensemble's members', a Pipeline's model): what saving it costs (``SAVE_SECONDS_PER_NODE``)."""
    tree = getattr(estimator, "tree_", None)
    if tree is not None and hasattr(tree, "node_count"):
        return int(tree.node_count)
    if depth >= MAX_DEPTH:
        return 0
    if isinstance(estimator, (list, tuple)):
        parts: Any = estimator
    elif getattr(getattr(estimator, "dtype", None), "kind", None) == "O":
        parts = estimator.ravel()  # GradientBoosting's array of trees
    elif hasattr(estimator, "get_params") or type(estimator).__module__.startswith("sklearn."):
        parts = getattr(estimator, "__dict__", {}).values()  # an estimator, or a fitted part
    else:
        return 0
    return sum(tree_nodes(part, depth + 1) for part in parts)


def refit_scale(train_rows: int, fold_rows: list[int], *, refits_on_folds: bool) -> float:
    """How many of a fold's fits the refit costs: all ``train_rows`` over a fold's mean training
    rows, times ``1 + len(fold_rows)`` when calibration or a threshold fits on every fold too."""
    scale = train_rows / (sum(fold_rows) / len(fold_rows)) if fold_rows else 1.0
    return scale * (1 + len(fold_rows)) if refits_on_folds else scale


def busy() -> float:
    """How much slower than quiet the machine runs: the last minute's load average over the
    cores this process may use, from 1 (quiet) to ``MOST_BUSY``."""
    from engine.threads import available_cores

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return min(max(load / available_cores(), 1.0), MOST_BUSY)


def process_started() -> float:
    """When this process started (``time.time()``), from /proc on Linux; now elsewhere."""
    try:
        with open("/proc/self/stat") as stat, open("/proc/uptime") as uptime:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
            up = float(uptime.read().split()[0])
    except (OSError, IndexError, ValueError):
        return time.time()
    return time.time() - (up - ticks / os.sysconf("SC_CLK_TCK"))


def spent_line(budget: Budget, timing: Mapping[str, Any], total: float) -> str:
    """``budget 60 s: start 1.9, prepare 1.2, search 51.0 (given 52.3), refit 2.1, ...,
    total 58.9``: run.json's laps (``timing``) and the command's ``total`` seconds."""
    stages = [f"{label} {timing[key]:.1f}" + (
        f" (given {timing['search_given_seconds']:.1f})"
        if key == "tune_seconds" and "search_given_seconds" in timing else "")
        for key, label in STAGES if key in timing]
    return f"budget {budget.seconds:g} s: {', '.join(stages)}, total {total:.1f}"


def overrun_note(budget: Budget, total: float, searching: bool) -> str | None:
    """A warning when the command ran past its budget's tolerance (5 % or 3 s, the larger)."""
    if total <= budget.seconds + max(0.05 * budget.seconds, 3.0):
        return None
    fix = ("the search's first trial and each model's defaults always finish, and the stages "
           "after it took what the timing line shows: raise budget, or use a cheaper model or "
           "fewer permutation importances (metrics.explain.importance_repeats)" if searching else
           "a run without a search cannot be shortened: raise budget, use fewer CV folds "
           "(split.cv.n_splits) or a cheaper model")
    return f"budget={budget.seconds:g}: the command took {total:.1f} s; {fix}."
