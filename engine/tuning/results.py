"""What a search leaves in the run directory: every trial, the picked one, the Pareto front and
Optuna's plots.

``tuning/trials.csv``, ``tuning/best.json``, ``tuning/pareto_front.csv`` (several objectives) and
the plots (engine/tuning/plots.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from engine.config.schema.tune import Pick
from engine.tracking.files import write_atomically, write_json
from engine.tuning.objective import objective_direction


def pick_trial(study: Any, objectives: tuple[str, ...], pick: Pick) -> Any:
    """The trial to refit: the best one, or with several objectives the Pareto trial ``pick``
    names: best in ``pick.objective`` among those within ``pick.within`` of the best first
    objective (by default simply the best first objective)."""
    if len(objectives) == 1:
        return study.best_trial
    front = study.best_trials
    sign = [1 if objective_direction(o) == "maximize" else -1 for o in objectives]
    best_first = max(sign[0] * t.values[0] for t in front)
    within = pick.within
    close = [t for t in front if sign[0] * t.values[0] >= best_first - within]
    index = objectives.index(pick.objective or objectives[0])
    return max(close, key=lambda t: (sign[index] * t.values[index], sign[0] * t.values[0]))


def trials_table(study: Any, objectives: tuple[str, ...]) -> pd.DataFrame:
    """One row per trial: number, state, objective values, duration, parameters, worker, error."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        values = trial.values or [None] * len(objectives)
        rows.append({
            "number": trial.number,
            "state": trial.state.name,
            **dict(zip(objectives, values, strict=True)),
            "duration_s": trial.duration.total_seconds() if trial.duration else None,
            "pruned_at_step": trial.last_step if trial.state.name == "PRUNED" else None,
            **{f"param_{k}": v for k, v in trial.params.items()},
            "worker": trial.user_attrs.get("worker"),
            "error": trial.user_attrs.get("error"),
        })
    return pd.DataFrame(rows)


def pareto_front(study: Any, objectives: tuple[str, ...]) -> pd.DataFrame:
    """The Pareto-optimal trials' rows of the trials table (empty with one objective)."""
    table = trials_table(study, objectives)
    if len(objectives) == 1:
        return table.iloc[:0]
    return table[table["number"].isin({t.number for t in study.best_trials})]


def write_results(study: Any, best: Any, record: dict[str, Any], out: Path,
                  objectives: tuple[str, ...]) -> None:
    """Write the trials table, the picked trial and the Pareto front into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    trials = trials_table(study, objectives)
    write_atomically(out / "trials.csv", lambda path: trials.to_csv(path, index=False))
    if len(objectives) > 1:
        front = pareto_front(study, objectives)
        write_atomically(out / "pareto_front.csv", lambda path: front.to_csv(path, index=False))
    write_json(out / "best.json", {**record, "cv": best.user_attrs.get("cv")})
