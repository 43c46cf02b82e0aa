"""Each completed trial's out-of-fold predictions, one ``.npy`` file per trial beside the study.

Trials may run in several processes (``tune.n_jobs``, ``engine worker``), so they share nothing
in memory: with ``tune.ensemble.size`` set, each trial writes its predictions of every training
row, made by the model of the fold that held the row out, to
``<studies_dir>/<study_name>.oof/<trial number>.npy`` (atomically). The folds are the run's, the
same for every trial, so the files' rows align. Classifiers keep class probabilities, regressors
predictions; a classifier without ``predict_proba`` keeps none (it cannot join an ensemble that
averages probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import is_classifier

from engine.config.schema.tune import TuneConfig
from engine.tracking.files import write_atomically


def oof_directory(settings: TuneConfig, studies_dir: Path, study_name: str) -> Path | None:
    """Where the study's trials keep their out-of-fold predictions; None when no ensemble is
    built (``tune.ensemble.size`` 0), so nothing is written."""
    if not settings.ensemble.size:
        return None
    return studies_dir / f"{study_name}.oof"


def oof_method(model: Any) -> str | None:
    """The prediction an ensemble averages: class probabilities, or a regressor's predictions;
    None for a classifier without probabilities."""
    if is_classifier(model):
        return "predict_proba" if hasattr(model, "predict_proba") else None
    return "predict"


def assemble(parts: Sequence[tuple[np.ndarray, np.ndarray]], rows: int) -> np.ndarray:
    """One array over ``rows`` training rows from each fold's (validation rows, predictions)."""
    first = parts[0][1]
    out = np.full((rows, *first.shape[1:]), np.nan)
    for index, values in parts:
        out[index] = values
    return out


def write_oof(directory: Path, number: int, predictions: np.ndarray) -> Path:
    """Trial ``number``'s out-of-fold predictions, written atomically."""
    directory.mkdir(parents=True, exist_ok=True)

    def save(path: Path) -> None:
        with path.open("wb") as handle:
            np.save(handle, predictions)

    return write_atomically(directory / f"{number}.npy", save)


def read_oof(directory: Path, number: int) -> np.ndarray | None:
    """Trial ``number``'s out-of-fold predictions, or None when it kept none."""
    path = directory / f"{number}.npy"
    return np.load(path, allow_pickle=False) if path.is_file() else None
