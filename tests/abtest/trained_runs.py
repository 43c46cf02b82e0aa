"""Tiny runs trained by the engine on the deploy tests' mixed frame, for experiments served
from a real registry: a logistic regression and the majority class."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from engine.config.compose import compose_spec
from engine.experiment import run_experiment
from tests.conftest import REPO
from tests.deploy.conftest import mixed_frame


def train(data: Path, model: str, run_dir: Path) -> Path:
    """A run of ``model`` on the CSV ``data`` (target ``label``, ``id`` dropped) in ``run_dir``."""
    spec = compose_spec(["dataset=titanic", f"dataset.path={data}", "dataset.target=label",
                         "dataset.drop=[id]", f"model={model}", "split.cv.n_splits=3",
                         "report=false", "tune.n_trials=1"])
    run_experiment(spec, run_dir, project_dir=REPO, console=Console(quiet=True))
    return run_dir


def train_pair(folder: Path) -> tuple[Path, Path]:
    """A logistic regression's run and the majority class's, trained on 400 rows."""
    mixed_frame(400, 0).to_csv(folder / "mixed.csv", index=False)
    return (train(folder / "mixed.csv", "logistic_regression", folder / "good"),
            train(folder / "mixed.csv", "dummy", folder / "worse"))
