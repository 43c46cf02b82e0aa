"""Trials that a stopped process left unfinished are run again, and counted once.

- Ctrl-C: the worker flags its trial ``interrupted`` and queues its parameters again
  (:func:`interrupted_trial`) before Optuna marks it FAIL.
- ``kill -9``: the trial stays RUNNING. Every run, and every worker after each trial, looks for
  RUNNING trials whose process on this host is gone (found by the ``worker`` each trial records)
  and does the same (:func:`requeue_interrupted`).
- A worker on another machine: RDB storages' heartbeat fails its trial and Optuna's retry
  callback queues a copy (engine.tuning.storage); the copy's ``retry_history`` names the trial.

Neither the interrupted trial nor one retried by the heartbeat counts toward ``n_trials``.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import socket
from typing import Any

from engine.tuning.storage import GRACE_SECONDS

COUNTED = ("COMPLETE", "PRUNED", "FAIL")


def worker_id() -> str:
    """``host:pid`` of this process, recorded on each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def counted_trials(study: Any) -> list[Any]:
    """Finished trials that count toward ``n_trials`` (interrupted or retried ones are re-run,
    not counted)."""
    trials = study.get_trials(deepcopy=False)
    # What RetryFailedTrialCallback.retry_history returns, read without its experimental warning.
    retried = {number for t in trials for number in t.system_attrs.get("retry_history", ())}
    return [t for t in trials if t.state.name in COUNTED and t.number not in retried
            and not (t.state.name == "FAIL" and t.user_attrs.get("interrupted"))]


def in_flight(study: Any) -> list[Any]:
    """RUNNING trials a worker has started on (tagged with its ``worker``)."""
    return [t for t in study.get_trials(deepcopy=False)
            if t.state.name == "RUNNING" and "worker" in t.user_attrs]


def interrupted_trial(study: Any, trial: Any, why: str) -> None:
    """Flag the running ``trial`` so it does not count, and queue its parameters to run again."""
    trial.set_user_attr("interrupted", True)
    trial.set_user_attr("error", why)
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def requeue_interrupted(study: Any) -> int:
    """Fail, flagged ``interrupted``, the RUNNING trials whose process on this host is gone
    (``kill -9``), or that never got a worker (killed right after Optuna created them), and
    queue their parameters to run again; returns how many."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    multiprocessing.active_children()  # reaps this process's dead workers: no zombie looks alive
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        dead = _dead_worker(trial)
        if dead is None:
            continue
        storage = study._storage  # Optuna has no public call to fail another process's trial
        try:
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            storage.set_trial_user_attr(trial._trial_id, "error", dead)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except UpdateFinishedTrialError:  # another worker, or the heartbeat, was first
            continue
        if trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        count += 1
    return count


def _dead_worker(trial: Any) -> str | None:
    """Why the RUNNING ``trial`` will never finish, or None while its worker may still run it."""
    worker = trial.user_attrs.get("worker")
    if worker is None:  # a worker tags its trial at once; untagged this long, it never will be
        started = trial.datetime_start or datetime.datetime.now()
        stale = datetime.datetime.now() - started > datetime.timedelta(seconds=GRACE_SECONDS)
        return "its worker stopped before starting it" if stale else None
    host, _, pid = str(worker).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or _alive(int(pid)):
        return None
    return f"worker {worker} died mid-trial"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
