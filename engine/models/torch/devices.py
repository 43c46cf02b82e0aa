"""Choosing the device and the mixed-precision dtype a fit runs with."""

from __future__ import annotations

from contextlib import suppress

import torch

PRECISIONS = ("auto", "32", "bf16", "fp16")


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; a named device must be present.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = None
    with suppress(RuntimeError, ValueError):
        device = torch.device(name)
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"The 'device' parameter must be auto, cpu, cuda, cuda:<index> or mps; got {name!r}."
        )
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"The 'device' parameter asks for {name!r}, but this machine has no CUDA device "
                f"(torch {torch.__version__}, torch.cuda.is_available() is False). Use "
                "model.device=auto to run on what is there, or install a CUDA build of torch."
            )
        if device.index is not None and device.index >= count:
            raise ValueError(f"The 'device' parameter asks for {name!r}, but this machine has "
                             f"{count} CUDA device(s): cuda:0 to cuda:{count - 1}.")
    elif device.type == "mps" and not _mps_available():
        raise ValueError(f"The 'device' parameter asks for {name!r}, but Apple's MPS backend is "
                         "not available here. Use model.device=auto or model.device=cpu.")
    return device


def amp_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: ``auto`` is bf16 on a GPU that has it (else fp16), float32 on CPU."""
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
