"""Trials a killed process left RUNNING: found by the ``worker`` each trial records, failed and
queued again, so a rerun loses only the trials that were running.

RDB storages also have Optuna's heartbeat for workers on other machines; a journal file has none,
so a process checks the trials its own host started.
"""

from __future__ import annotations

import os
import socket
from typing import Any

COUNTED = ("COMPLETE", "PRUNED", "FAIL")


def worker_id() -> str:
    """``host:pid`` of this process, recorded on each trial it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def counted_trials(study: Any) -> list[Any]:
    """Finished trials that count toward ``n_trials`` (interrupted ones are re-run, not counted)."""
    return [t for t in study.get_trials(deepcopy=False)
            if t.state.name in COUNTED and not t.user_attrs.get("interrupted")]


def requeue_interrupted(study: Any) -> int:
    """Mark RUNNING trials whose process on this host is gone (``kill -9``) as FAIL, flagged
    ``interrupted`` so they do not count, and queue their parameters to run again."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    count = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        worker_host, _, pid = worker.rpartition(":")
        if worker_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        storage = study._storage  # Optuna has no public call to fail another process's trial
        storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
        storage.set_trial_user_attr(trial._trial_id, "error", f"worker {worker} died mid-trial")
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        count += 1
    return count


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
