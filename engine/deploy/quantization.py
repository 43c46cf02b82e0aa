"""Dynamic int8 quantization of an exported network, with what it costs and what it gains.

``deploy.quantize=int8`` writes ``exports/model.int8.onnx`` beside the float network: its
weights stored as int8 and its activations quantized on the fly (onnxruntime's
``quantize_dynamic``). Both graphs then score the held-out rows, so the record says how much
accuracy (or RMSE) moved, how far the outputs drifted, and how the size and speed changed.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, root_mean_squared_error

from engine.errors import ConfigError
from engine.tracking.timing import call_ms

QUANTIZE_OPTIONS = (None, "int8")
TIMING_REPEATS = 20


def check_quantize(value: Any, targets: list[str], torch_model: bool) -> None:
    """Refuse ``deploy.quantize`` where it cannot apply, before any data is loaded."""
    if value not in QUANTIZE_OPTIONS:
        raise ConfigError(f"deploy.quantize: unknown value {value!r}; use int8, or null for none.")
    if value and ("onnx" not in targets or not torch_model):
        raise ConfigError(
            "deploy.quantize=int8 quantizes the ONNX export of a PyTorch network: it needs "
            "deploy.targets to include onnx and a PyTorch model (model=mlp). Set "
            "deploy.quantize=null otherwise."
        )


def quantize_network(float_path: Path, features: np.ndarray, y: np.ndarray | None,
                     *, classifier: bool) -> dict[str, Any]:
    """Write the int8 graph beside ``float_path``; compare both on ``features`` (and ``y``)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_path = float_path.with_name(float_path.stem + ".int8.onnx")
    quantize_dynamic(float_path, int8_path, weight_type=QuantType.QInt8)
    X = np.ascontiguousarray(features, dtype=np.float32)
    runs = {name: _session(path) for name, path in (("float32", float_path), ("int8", int8_path))}
    outputs = {name: run(X) for name, run in runs.items()}
    record: dict[str, Any] = {
        "file": int8_path.name,
        "rows": len(X),
        "size_bytes": {"float32": float_path.stat().st_size, "int8": int8_path.stat().st_size},
        "max_abs_diff": float(np.max(np.abs(outputs["int8"] - outputs["float32"]))),
    }
    if y is not None:
        quality = {name: _quality(out, y, classifier) for name, out in outputs.items()}
        measure = "accuracy" if classifier else "rmse"
        record[measure] = {**quality, "change": quality["int8"] - quality["float32"]}
    batch = {name: _median_ms(run, X) for name, run in runs.items()}
    row = {name: _median_ms(run, X[:1]) for name, run in runs.items()}
    record["batch_ms"] = {**batch, "speedup": batch["float32"] / batch["int8"]}
    record["row_ms"] = {**row, "speedup": row["float32"] / row["int8"]}
    return record


def _session(path: Path) -> Any:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda X: session.run(None, {name: X})[0]


def _quality(output: np.ndarray, y: np.ndarray, classifier: bool) -> float:
    if classifier:
        return float(accuracy_score(y, np.argmax(output, axis=1)))
    return float(root_mean_squared_error(y, output.ravel()))


def _median_ms(run: Any, X: np.ndarray) -> float:
    return statistics.median(call_ms(lambda: run(X), TIMING_REPEATS))
