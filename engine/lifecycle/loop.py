"""``lifecycle run``: steps one after another, sleeping between them. Each step reads the state
the last one left, so a loop stopped (Ctrl-C, a reboot) and started again does not retrain what
was already decided."""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

from engine.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console

    from engine.deploy.registry import Registry
    from engine.lifecycle.settings import LifecycleSettings
    from engine.lifecycle.step import StepOutcome

INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """``"1h"`` -> 3600.0; seconds (s), minutes (m), hours (h) or days (d)."""
    match = INTERVAL.fullmatch(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise ConfigError(f"--every: {text!r} is not an interval; write a number above 0 and "
                          "a unit, e.g. 30s, 15m, 1h or 1d.")
    return float(match.group(1)) * SECONDS[match.group(2)]


def run_loop(settings: LifecycleSettings, *, registry: Registry, console: Console,
             every: float, once: bool, steps: int | None = None) -> StepOutcome:
    """Run steps every ``every`` seconds (one with ``once``; ``steps`` of them, for tests) and
    return the last step's outcome; Ctrl-C raises KeyboardInterrupt (see :func:`_heard`)."""
    from engine.lifecycle.step import run_step

    done = 0
    with _heard() as interrupted:
        while True:
            started = time.monotonic()
            console.print(f"[bold]step[/bold] {datetime.now(UTC).isoformat(timespec='seconds')} "
                          f"{settings.reference}", highlight=False)
            outcome = run_step(settings, registry=registry, console=console)
            console.print(f"{outcome.status}: {outcome.message}", highlight=False)
            done += 1
            if once or (steps is not None and done >= steps):
                return outcome
            if interrupted.wait(max(0.0, every - (time.monotonic() - started))):
                raise KeyboardInterrupt


@contextmanager
def _heard() -> Iterator[threading.Event]:
    """SIGINT remembered as well as raised. Python drops a KeyboardInterrupt raised while a
    finalizer runs (it only prints "Exception ignored"); the event, set all the same, ends the
    pause after the step. Outside the main thread (no signal handlers there) only the event."""
    interrupted = threading.Event()

    def interrupt(number: int, frame: FrameType | None) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)
