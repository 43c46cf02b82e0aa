"""The experiment a shared study searches, stored in the study itself.

The first process to open a study (the run that launched it, or the first ``engine worker``)
stores its validated config as the study's ``experiment`` user attribute. A worker started with
no overrides rebuilds the same spec from it, so a machine needs only the data; a process whose
config differs in anything that changes a trial is refused, naming each difference. Keys that
may differ between machines or between resumptions (the budget, local workers, where the
storage and the data file are, what happens after the search: the held-out evaluation,
deployment, monitoring) are not compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.config.spec import ExperimentSpec, ModelSpec, spec_from_config
from engine.errors import ConfigError

EXPERIMENT_ATTR = "experiment"
SECTIONS = ("dataset", "features", "split", "metrics", "tune", "deploy", "monitor", "quality",
            "card")
NOT_COMPARED = (
    "tune.n_trials", "tune.timeout", "tune.n_jobs", "tune.study_name", "tune.storage",
    "tune.studies_dir", "tune.plots", "tune.pick", "tune.max_failure_fraction", "n_jobs",
    "report", "budget", "dataset.path", "deploy", "monitor", "quality", "card", "metrics.bootstrap",
    "metrics.overfitting", "metrics.diagnostics", "metrics.slices", "metrics.fairness",
    "metrics.explain",
)
SHOWN_DIFFERENCES = 5


def experiment_record(spec: ExperimentSpec) -> dict[str, Any]:
    """The spec as plain values (the resolved config, the group choices and the candidate
    models of a search across families), from which :func:`spec_from_record` rebuilds it."""
    config: dict[str, Any] = {name: getattr(spec, name).model_dump(mode="json")
                              for name in SECTIONS}
    config.update(model=_model_section(spec.model), seed=spec.seed, n_jobs=spec.n_jobs,
                  report=spec.report, allowed_targets=list(spec.allowed_targets),
                  budget=None if spec.budget is None else spec.budget.seconds)
    return {"config": config, "choices": dict(spec.choices),
            "candidates": {name: _model_section(model) for name, model in spec.candidates.items()}}


def spec_from_record(record: Mapping[str, Any]) -> ExperimentSpec:
    """The spec a study's stored experiment describes."""
    return spec_from_config(record["config"], record["choices"], record["candidates"])


def share_config(study: Any, spec: ExperimentSpec) -> None:
    """Store this spec in a study that has none; refuse one that differs from the stored spec."""
    record = json.loads(json.dumps(experiment_record(spec)))  # as the storage returns it
    stored = study.user_attrs.get(EXPERIMENT_ATTR)
    if stored is None:
        study.set_user_attr(EXPERIMENT_ATTR, record)
        return
    differences = config_differences(stored, record)
    if differences:
        shown = "; ".join(differences[:SHOWN_DIFFERENCES])
        more = len(differences) - SHOWN_DIFFERENCES
        raise ConfigError(
            f"tune.study_name={study.study_name}: this process's config differs from the one the "
            f"study was started with: {shown}"
            + (f" (and {more} more)" if more > 0 else "") + ". Every worker of a study runs the "
            f"same experiment: start it with the study's own config (python -m engine worker "
            f"--study {study.study_name} --storage URL, with no overrides), or name another study."
        )


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``key is X in the study, Y here`` for each compared key whose value differs."""
    before = _flat({"candidates": stored.get("candidates", {}), **stored["config"]})
    after = _flat({"candidates": current.get("candidates", {}), **current["config"]})
    return [f"{key} is {_shown(before.get(key))} in the study, {_shown(after.get(key))} here"
            for key in sorted(before.keys() | after.keys())
            if before.get(key) != after.get(key) and not _machine_key(key)]


def _model_section(model: ModelSpec) -> dict[str, Any]:
    return {"_target_": model.targets, **model.params, "search_space": model.search_space}


def _flat(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _machine_key(key: str) -> bool:
    return any(key == skipped or key.startswith(f"{skipped}.") for skipped in NOT_COMPARED)


def _shown(value: Any) -> str:
    return "unset" if value is None else repr(value)
