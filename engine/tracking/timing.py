"""Timing a call the same way everywhere: one warm-up, then each repeat in milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def call_ms(call: Callable[[], Any], repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` calls of ``call``, after one untimed warm-up call."""
    call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples
