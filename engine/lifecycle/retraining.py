"""Training the challenger: the champion's own config, as its run resolved it, on the window
(less the gate's rows) written as a Parquet file; in this process, through
:func:`engine.experiment.run_experiment`.

With ``search: false`` the challenger keeps the champion's selected model and parameters
(``tune.method=none``, a tuned champion's best parameters written into the model section); with
``search: true`` it searches again with the champion's tune settings, in a fresh study."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError
from engine.tracking.files import write_atomically, write_text
from engine.tracking.records import RESOLVED_CONFIG_FILE

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from engine.experiment import RunResult

WINDOW_FILE = "window.parquet"
KEPT_DATASET_KEYS = ("name", "target", "task", "positive_class", "drop", "group_column",
                     "time_column", "dtypes")
"""The champion's dataset keys the challenger keeps; the source becomes the window's file."""


def challenger_config(champion: dict[str, Any], window_file: Path, *, search: bool,
                      tuned: dict[str, Any] | None, columns: list[str]) -> dict[str, Any]:
    """The champion's config with its dataset swapped for ``window_file`` (whose ``columns``
    are known) and, without ``search``, its tuning replaced by the parameters it picked."""
    config = copy.deepcopy(champion)
    dataset = {key: value for key, value in champion["dataset"].items()
               if key in KEPT_DATASET_KEYS and value is not None}
    for key in ("time_column", "group_column"):
        if dataset.get(key) not in columns:
            dataset.pop(key, None)
    config["dataset"] = {**dataset, "source": "file", "path": str(window_file),
                         "format": "parquet"}
    config["lifecycle"] = _still_reading(config.get("lifecycle") or {}, champion["dataset"])
    deploy = dict(config.get("deploy") or {})
    deploy["targets"] = [target for target in deploy.get("targets", ["bundle"])
                         if target not in ("registry", "rest")] or ["bundle"]
    config["deploy"] = deploy  # the lifecycle registers the challenger itself
    tune = dict(config.get("tune") or {})
    if tune.get("models"):
        raise ConfigError(f"lifecycle: the champion searched across model families "
                          f"(tune.models={tune['models']}), which retrain cannot compose again "
                          "(search or not); train and register a champion of the one family "
                          "it picked (model=NAME, its parameters in model.*) to retrain it.")
    if search:
        config["tune"] = {**tune, "study_name": None, "storage": None}
    else:
        config["tune"] = {"method": "none", "studies_dir": tune.get("studies_dir",
                                                                    "outputs/studies")}
        config["model"] = _picked_model(config["model"], tuned)
    return config


def _still_reading(lifecycle: dict[str, Any], dataset: dict[str, Any]) -> dict[str, Any]:
    """The lifecycle section, its source the champion's dataset when it named none: the
    challenger's own dataset is its window's file, which never grows."""
    if lifecycle.get("source") is not None or dataset.get("source") not in ("file", "sql"):
        return lifecycle
    time_column = dataset.get("time_column")
    source = {"type": "files", "path": dataset["path"], "time_column": time_column} \
        if dataset["source"] == "file" else \
        {"type": "sql", "url": dataset["url"], "query": dataset["query"],
         "time_column": time_column}
    return {**lifecycle, "source": source}


def _picked_model(model: dict[str, Any], tuned: dict[str, Any] | None) -> dict[str, Any]:
    """The model section with a tuned champion's best parameters written in."""
    if not tuned:
        return model
    space = model.get("search_space") or {}
    picked = dict(model)
    for name, value in tuned.items():
        if name not in space:
            raise ConfigError(
                f"lifecycle.search=false: the champion's search picked '{name}'={value!r}, "
                "which is not a parameter of its model section (a feature parameter); set "
                "lifecycle.search=true to search again.")
        picked[name] = value
    return picked


def train_challenger(champion: dict[str, Any], choices: dict[str, str | None],
                     rows: pd.DataFrame, run_dir: Path, *, search: bool,
                     tuned: dict[str, Any] | None, console: Console) -> RunResult:
    """Train the challenger on ``rows`` into ``run_dir`` (its resolved_config.yaml written as
    the CLI writes a run's, so the challenger, once champion, is retrained the same way)."""
    from omegaconf import OmegaConf

    from engine.config.spec import spec_from_config
    from engine.experiment import run_experiment

    run_dir.mkdir(parents=True, exist_ok=True)
    window_file = run_dir / WINDOW_FILE
    write_atomically(window_file, lambda path: rows.to_parquet(path, index=False))
    config = challenger_config(champion, window_file, search=search, tuned=tuned,
                               columns=[str(column) for column in rows.columns])
    chosen = {key: value for key, value in choices.items() if value is not None}
    spec = spec_from_config(config, chosen)
    write_text(run_dir / RESOLVED_CONFIG_FILE, OmegaConf.to_yaml(OmegaConf.create(config)))
    return run_experiment(spec, run_dir, project_dir=Path.cwd(), console=console)


def tuned_parameters(run_dir: Path) -> dict[str, Any] | None:
    """The parameters a tuned champion's search picked (None: it did not search)."""
    from engine.tracking.records import read_metrics

    tuning = read_metrics(run_dir).tuning
    return dict(tuning.best_params) if tuning is not None else None
