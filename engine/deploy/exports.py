"""The export deploy targets: the fitted network as ONNX or TorchScript, beside the bundle.

Each export goes to ``<run_dir>/exports/`` and is checked for parity on held-out rows; what it
takes (the features' output columns, float32) and how closely it matched are recorded in
``exports/exports.json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from engine.errors import ConfigError
from engine.tracking.files import write_json

EXPORT_DIR = "exports"
EXPORT_FILES = {"onnx": "model.onnx", "torchscript": "model.pt"}
CHECK_ROWS = 1000


def check_export_targets(targets: Sequence[str], classes: Iterable[type], model: str) -> None:
    """Refuse an export target the model cannot take, before any data is loaded."""
    wanted = [target for target in targets if target in EXPORT_FILES]
    if not wanted:
        return
    from engine.models.torch.estimator import TorchEstimator

    for cls in classes:
        if not issubclass(cls, TorchEstimator):
            raise ConfigError(
                f"deploy.targets: {', '.join(wanted)} exports PyTorch models (model=mlp or a "
                f"module of your own), but model={model} is {cls.__name__}. Drop the target, "
                "or pick a PyTorch model."
            )


def export_model(fitted: Pipeline, X_rows: pd.DataFrame, targets: Sequence[str],
                 run_dir: Path) -> dict[str, Any]:
    """Write each export target for the fitted Pipeline's network; the record of what was made."""
    wanted = [target for target in targets if target in EXPORT_FILES]
    if not wanted:
        return {}
    from engine.models.torch.export import export_onnx, export_torchscript

    exporters = {"onnx": export_onnx, "torchscript": export_torchscript}
    directory = run_dir / EXPORT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    features = fitted[:-1].transform(X_rows.head(CHECK_ROWS))
    columns = [str(name) for name in features.columns]
    record: dict[str, Any] = {}
    for target in wanted:
        check = exporters[target](fitted[-1], features, directory / EXPORT_FILES[target])
        record[target] = {
            "file": check.path.name,
            "input": {"name": "features", "dtype": "float32", "columns": columns},
            "output": "class probabilities" if hasattr(fitted[-1], "classes_") else "prediction",
            "parity": {"rows": check.rows_checked, "max_abs_diff": check.max_abs_diff},
        }
    write_json(directory / "exports.json", record)
    return record
