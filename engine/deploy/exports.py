"""The export deploy targets, beside the bundle: ONNX and TorchScript.

A scikit-learn Pipeline exports whole to ONNX (skl2onnx: raw columns in, see
``engine.deploy.sklearn_onnx``); a PyTorch model exports its network (the features' output
columns in, float32) to ONNX or TorchScript. Each export goes to ``<run_dir>/exports/`` and is
checked for parity on held-out rows; what it takes and how closely it matched are recorded in
``exports/exports.json``. An export that fails (its graph disagrees with the model, say) is
recorded there as ``{"error": ...}`` and the run's other outputs are still written; run.json
then has ``status: failed`` with that error (``RunRecord``), and the command exits 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from engine.config.schema.deploy import DeployConfig
from engine.errors import ConfigError, EngineError
from engine.models.estimators import is_torch_estimator, model_classes
from engine.tracking.files import write_json

if TYPE_CHECKING:
    from engine.config.spec import ExperimentSpec

EXPORT_DIR = "exports"
EXPORT_FILES = {"onnx": "model.onnx", "torchscript": "model.pt"}
CHECK_ROWS = 1000


def check_export_targets(targets: Sequence[str], classes: Iterable[type], model: str, *,
                         preprocessor: ColumnTransformer,
                         wrappers: Sequence[tuple[str, type]] = (),
                         quantize: Any = None) -> None:
    """Refuse an export target the model cannot take, before any data is loaded.

    ``wrappers`` are what the metrics options wrap the model in, by config key
    (``metrics.calibration``, ``metrics.threshold``); ``quantize`` is ``deploy.quantize``. Of the
    features, only blocks that name their columns are checked here: one that picks them by kind
    may find none in the data, and is checked by :func:`check_export_columns` once it is read.
    """
    from engine.deploy.quantization import check_quantize

    classes = list(classes)
    check_quantize(quantize, list(targets), all(is_torch_estimator(cls) for cls in classes))
    wanted = [target for target in targets if target in EXPORT_FILES]
    if not wanted:
        return
    for cls in classes:
        if is_torch_estimator(cls):
            if wrappers:
                raise ConfigError(
                    f"deploy.targets: the {' and '.join(wanted)} export of a PyTorch model holds "
                    f"the network alone, without {' or '.join(key for key, _ in wrappers)}. "
                    "Drop those options or the export targets."
                )
        elif "torchscript" in wanted:
            raise ConfigError(
                f"deploy.targets: torchscript exports PyTorch models (model=mlp or a module of "
                f"your own), but model={model} is {cls.__name__}. Drop the target (onnx exports "
                "scikit-learn pipelines too), or pick a PyTorch model."
            )
        else:
            from engine.deploy.sklearn_onnx import (
                OnnxExportError,
                feature_steps,
                refuse_unconvertible,
            )

            try:
                refuse_unconvertible([*feature_steps(preprocessor), *wrappers, ("model", cls)])
            except OnnxExportError as error:
                raise ConfigError(str(error)) from None


def check_export_columns(spec: ExperimentSpec, frame: pd.DataFrame) -> None:
    """Refuse the onnx target of a scikit-learn model, once the data is read and before
    training, when a features block that takes some of ``frame``'s columns (``dtype:
    datetime`` finding a date column) has a step skl2onnx cannot convert; one line naming the
    step, its columns and the fix."""
    if "onnx" not in spec.deploy.targets:
        return
    classes = [cls for model in (spec.model, *spec.candidates.values())
               for cls in model_classes(model, spec.allowed_targets).values()]
    if all(is_torch_estimator(cls) for cls in classes):
        return  # a network's export starts after the features
    from engine.deploy.sklearn_onnx import OnnxExportError, feature_steps, refuse_unconvertible
    from engine.features.preprocessor import build_preprocessor

    preprocessor = build_preprocessor(spec.features, allowed=spec.allowed_targets)
    try:
        refuse_unconvertible(feature_steps(preprocessor, frame))
    except OnnxExportError as error:
        raise ConfigError(str(error)) from None


def export_model(fitted: Pipeline, X_rows: pd.DataFrame, y_rows: np.ndarray,
                 schema: Mapping[str, Any], deploy: DeployConfig,
                 run_dir: Path) -> dict[str, Any]:
    """Write each export target for the fitted Pipeline; the record of what was made.

    ``X_rows`` and ``y_rows`` are held-out rows (encoded target) for the parity checks and the
    quantized network's accuracy. A target that fails is recorded as ``{"error": message}``.
    """
    wanted = [target for target in deploy.targets if target in EXPORT_FILES]
    if not wanted:
        return {}
    directory = run_dir / EXPORT_DIR
    directory.mkdir(parents=True, exist_ok=True)
    if is_torch_estimator(type(fitted[-1])):
        record = _export_network(fitted, X_rows.head(CHECK_ROWS), y_rows[:CHECK_ROWS], wanted,
                                 directory, quantize=deploy.quantize)
    else:
        from engine.deploy.sklearn_onnx import export_pipeline_onnx

        record = {"onnx": _recorded(lambda: export_pipeline_onnx(
            fitted, X_rows.head(CHECK_ROWS), schema, directory / EXPORT_FILES["onnx"]))}
    write_json(directory / "exports.json", record)
    return record


def _recorded(export: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What ``export`` made, or ``{"error": message}`` when it failed."""
    try:
        return export()
    except EngineError as error:
        return {"error": str(error)}


def _export_network(fitted: Pipeline, X_rows: pd.DataFrame, y_rows: np.ndarray,
                    wanted: Sequence[str], directory: Path, *,
                    quantize: str | None) -> dict[str, Any]:
    from engine.models.torch.export import export_onnx, export_torchscript

    exporters = {"onnx": export_onnx, "torchscript": export_torchscript}
    network = fitted[-1]
    classifier = hasattr(network, "classes_")
    features = fitted[:-1].transform(X_rows)
    columns = [str(name) for name in features.columns]
    record: dict[str, Any] = {}
    for target in wanted:
        def exported(target: str = target) -> dict[str, Any]:
            check = exporters[target](network, features, directory / EXPORT_FILES[target])
            return {
                "file": check.path.name,
                "input": {"name": "features", "dtype": "float32", "columns": columns},
                "output": "class probabilities" if classifier else "prediction",
                "parity": {"rows": check.rows_checked, "max_abs_diff": check.max_abs_diff},
            }

        record[target] = _recorded(exported)
    if quantize and "error" not in record.get("onnx", {}):
        from engine.deploy.quantization import quantize_network

        y = np.searchsorted(network.classes_, y_rows) if classifier else y_rows
        record["onnx"]["int8"] = quantize_network(directory / EXPORT_FILES["onnx"],
                                                  np.asarray(features), y, classifier=classifier)
    return record
