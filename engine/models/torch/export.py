"""TorchScript and ONNX exports of a fitted PyTorch estimator, each checked for parity.

The exported graph is the network plus its output head, on the features' output (float32, one
column per feature name): class probabilities for a classifier, the prediction in the target's
units for a regressor. Each export is reloaded (``torch.jit.load``, onnxruntime) and compared
with the estimator on held-out rows; a largest difference (relative above 1, see
``engine.deploy.parity``) above ``PARITY_TOLERANCE`` fails the export.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.deploy.parity import largest_difference
from engine.errors import EngineError

PARITY_TOLERANCE = 1e-5


class ExportError(EngineError):
    """An export that fails, or whose outputs differ from the estimator's."""


@dataclass(frozen=True)
class ExportCheck:
    """Where an export went and how closely it reproduces the estimator."""

    path: Path
    rows_checked: int
    max_abs_diff: float


class ServedNetwork(nn.Module):
    """The fitted network and its output head, in float32 on the CPU."""

    def __init__(self, network: nn.Module, *, probabilities: bool, y_mean: float = 0.0,
                 y_scale: float = 1.0) -> None:
        super().__init__()
        self.network = network
        self.probabilities = probabilities
        self.y_mean = y_mean
        self.y_scale = y_scale

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out = self.network(features)
        if self.probabilities:
            return torch.softmax(out, dim=1)
        return out[:, 0] * self.y_scale + self.y_mean


def served_network(estimator: Any) -> ServedNetwork:
    """A CPU copy of ``estimator``'s network with its head, ready to trace or export."""
    copy = estimator._build_module()  # from the constructor parameters, then the weights
    copy.load_state_dict({k: v.detach().cpu() for k, v in estimator.module_.state_dict().items()})
    if hasattr(estimator, "classes_"):
        served = ServedNetwork(copy, probabilities=True)
    else:
        served = ServedNetwork(copy, probabilities=False, y_mean=estimator.y_mean_,
                               y_scale=estimator.y_scale_)
    return served.float().eval()


def export_torchscript(estimator: Any, X_check: np.ndarray, path: Path) -> ExportCheck:
    """Trace and freeze the served network to ``path``; reload it and check parity."""
    served = served_network(estimator)
    example = torch.as_tensor(_float32(X_check[:8]))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # torch.jit is deprecated; TorchScript is asked for
            traced = torch.jit.freeze(torch.jit.trace(served, example))
            torch.jit.save(traced, str(path))
            loaded = torch.jit.load(str(path))
            exported = loaded(torch.as_tensor(_float32(X_check))).numpy()
    except Exception as error:
        raise ExportError(f"deploy.targets: torchscript export of {type(served.network).__name__}"
                          f" fails: {str(error).splitlines()[0]}") from None
    return _parity("torchscript", estimator, X_check, exported, path)


def export_onnx(estimator: Any, X_check: np.ndarray, path: Path) -> ExportCheck:
    """Export the served network to ONNX (dynamic batch size); run it in onnxruntime."""
    import onnxruntime

    served = served_network(estimator)
    example = (torch.as_tensor(_float32(X_check[:8])),)
    batch = torch.export.Dim("batch")
    try:
        with _quiet_exporter():
            torch.onnx.export(served, example, str(path), input_names=["features"],
                              output_names=["output"], dynamic_shapes={"features": {0: batch}},
                              external_data=False, verbose=False)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        exported = session.run(None, {"features": _float32(X_check)})[0]
    except Exception as error:
        raise ExportError(f"deploy.targets: onnx export of {type(served.network).__name__} "
                          f"fails: {str(error).splitlines()[0]}") from None
    return _parity("onnx", estimator, X_check, exported, path)


def _parity(target: str, estimator: Any, X_check: np.ndarray, exported: np.ndarray,
            path: Path) -> ExportCheck:
    expected = (estimator.predict_proba(X_check) if hasattr(estimator, "classes_")
                else estimator.predict(X_check))
    difference = largest_difference(exported, expected)
    if not difference <= PARITY_TOLERANCE:
        path.unlink(missing_ok=True)
        raise ExportError(
            f"deploy.targets: the {target} export differs from the model by up to "
            f"{difference:.3g} on {len(X_check)} held-out rows (allowed {PARITY_TOLERANCE}); "
            "it was not kept. Export with model.precision=32 or report the network as a bug."
        )
    return ExportCheck(path=path, rows_checked=len(X_check), max_abs_diff=difference)


def _float32(X: Any) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(X, dtype=np.float32))


@contextlib.contextmanager
def _quiet_exporter() -> Any:
    """The exporter's progress lines and registration warnings are not the user's business."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
