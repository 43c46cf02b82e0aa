"""Many run directories from one real run: its run.json and metrics.json copied with another
dataset, model and scores (no model bundle: the index never needs one). Used by the run index's
tests and tests/bench/bench_runs_index.py."""

from __future__ import annotations

from pathlib import Path

from engine.tracking.records import (
    METRICS_FILE,
    RUN_FILE,
    CVScores,
    RunRecord,
    read_metrics,
    read_run,
    write_record,
)


def copy_run(source: Path, target: Path, *, dataset: str, model: str, shift: float) -> Path:
    """``source``'s records in ``target``, naming ``dataset`` and ``model``, every score moved
    by ``shift``."""
    run, metrics = read_run(source), read_metrics(source)
    assert isinstance(run, RunRecord)
    target.mkdir(parents=True)
    cv = {name: CVScores(mean=_moved(s.mean, shift), std=s.std,
                         folds=[_moved(f, shift) for f in s.folds])
          for name, s in metrics.cv.items()}
    test = {name: _moved(value, shift) for name, value in metrics.test.items()}
    objective = cv[metrics.primary].mean
    write_record(target / METRICS_FILE, metrics.model_copy(
        update={"cv": cv, "test": test, "objective": objective}))
    write_record(target / RUN_FILE, run.model_copy(update={
        "run_dir": str(target), "model": model, "objective": objective,
        "dataset": run.dataset.model_copy(update={"name": dataset}),
        "choices": {**run.choices, "dataset": dataset, "model": model}}))
    return target


def _moved(value: float | None, shift: float) -> float | None:
    return None if value is None else value + shift
