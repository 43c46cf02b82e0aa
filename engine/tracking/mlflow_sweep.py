"""A sweep in MLflow: one parent run, opened when the multirun starts, with each job's run
nested under it.

The jobs find their parent through the sweep directory (``mlflow_parent.json`` beside the job
directories), so jobs in other processes (a parallel launcher) find it too. Hydra instantiates
this callback for every run: MLflow is imported only when ``tracking=mlflow`` sweeps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from engine.config.schema import parse_section
from engine.config.schema.tracking import TrackingConfig
from engine.tracking.files import write_json
from engine.tracking.summary import make_console

PARENT_FILE = "mlflow_parent.json"


def parent_run_id(run_dir: Path) -> str | None:
    """The sweep's parent run id, for a job of a sweep logged to MLflow."""
    path = run_dir.parent / PARENT_FILE
    return str(json.loads(path.read_text(encoding="utf-8"))["run_id"]) if path.is_file() else None


class MlflowSweepCallback(Callback):
    """Opens the sweep's parent run before the first job and closes it after the last, with
    the leaderboard's rows, the job counts and the best objective."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        settings = _mlflow_settings(config)
        if settings is None:
            return
        from engine.tracking.mlflow_parent import open_parent

        sweep_dir = Path(config.hydra.sweep.dir)
        overrides = list(config.hydra.overrides.task)
        logged = open_parent(settings, sweep_dir, overrides,
                             project_dir=Path(config.hydra.runtime.cwd), console=make_console())
        if logged is not None:
            write_json(sweep_dir / PARENT_FILE, logged)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        settings = _mlflow_settings(config)
        if settings is None or not (sweep_dir / PARENT_FILE).is_file():
            return
        from engine.tracking.mlflow_parent import close_parent

        close_parent(settings, sweep_dir, json.loads((sweep_dir / PARENT_FILE).read_text()),
                     project_dir=Path(config.hydra.runtime.cwd), console=make_console())


def _mlflow_settings(config: DictConfig) -> TrackingConfig | None:
    """The sweep's tracking settings, when they name MLflow."""
    section = config.get("tracking")
    if section is None or section.get("backend") != "mlflow":
        return None
    values = OmegaConf.to_container(section, resolve=True)
    assert isinstance(values, dict)
    return parse_section(TrackingConfig, {str(k): v for k, v in values.items()}, "tracking.")
