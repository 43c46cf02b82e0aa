"""What a run directory gives MLflow: params, metrics and tags, as plain values.

Read from the typed records (metrics.json, run.json) and the resolved config, never from the
stages, so a finished run can be logged again as it is. MLflow itself is not imported here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from engine.tracking.records import (
    METRICS_FILE,
    RESOLVED_CONFIG_FILE,
    RUN_FILE,
    MetricsRecord,
    RunRecord,
    read_record,
)

PARAM_LENGTH = 6000
"""The longest param value MLflow stores; a longer one (a long list) is cut to this."""
TAG_PREFIX = "engine."
BUNDLE_ARTIFACT = "bundle"
"""The pyfunc model's artifact that holds the run's bundle."""


def flat_params(run_dir: Path) -> dict[str, str]:
    """The resolved config flattened to ``group.key`` params (``model.max_depth``); lists and
    mappings inside as JSON."""
    config = yaml.safe_load((run_dir / RESOLVED_CONFIG_FILE).read_text(encoding="utf-8")) or {}
    return {key: _text(value)[:PARAM_LENGTH] for key, value in _flatten(config)}


def _flatten(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def run_metrics(metrics: MetricsRecord, run: RunRecord) -> dict[str, list[float]]:
    """Each metric's values by step: ``cv_<scorer>_mean``/``_std``, ``cv_<scorer>_fold`` (one
    step per fold), ``test_<scorer>`` and its interval (``_low``, ``_high``), ``objective`` and
    each stage's seconds. Scores that are null (not measured) are left out."""
    values: dict[str, list[float | None]] = {"objective": [metrics.objective]}
    for name, cv in metrics.cv.items():
        values |= {f"cv_{name}_mean": [cv.mean], f"cv_{name}_std": [cv.std],
                   f"cv_{name}_fold": list(cv.folds)}
    for name, score in metrics.test.items():
        values[f"test_{name}"] = [score]
        if name in metrics.test_intervals:
            interval = metrics.test_intervals[name]
            values |= {f"test_{name}_low": [interval.low], f"test_{name}_high": [interval.high]}
    timing = run.timing.model_dump(exclude_none=True)
    values |= {name: [seconds] for name, seconds in timing.items() if name.endswith("_seconds")}
    return {name: [float(v) for v in steps if v is not None] for name, steps in values.items()
            if any(v is not None for v in steps)}


def run_tags(run: RunRecord) -> dict[str, str]:
    """Where the run came from and what it is: MLflow's own git tag, and the engine's."""
    tags = {f"{TAG_PREFIX}dataset": run.dataset.name,
            f"{TAG_PREFIX}data_fingerprint": run.dataset.fingerprint,
            f"{TAG_PREFIX}model": run.model, f"{TAG_PREFIX}task": run.dataset.task,
            f"{TAG_PREFIX}primary": run.primary, f"{TAG_PREFIX}status": run.status,
            f"{TAG_PREFIX}run_dir": run.run_dir}
    if run.git.commit:
        tags |= {"mlflow.source.git.commit": run.git.commit,
                 f"{TAG_PREFIX}git_commit": run.git.commit,
                 f"{TAG_PREFIX}git_dirty": str(run.git.dirty).lower()}
    return tags


def read_run(run_dir: Path) -> tuple[MetricsRecord, RunRecord]:
    """The run's metrics.json and run.json, through their types."""
    return read_record(run_dir / METRICS_FILE, MetricsRecord), read_record(run_dir / RUN_FILE,
                                                                         RunRecord)
