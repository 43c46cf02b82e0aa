"""The loop's memory, ``<state_dir>/state.json`` (written atomically): how far the last finished
step read, the triggers that fired while the step waited for labels, and the step in progress
(its window's fingerprint, the challenger's run directory and version, its decision), so that a
step killed half-way resumes where it stopped and a finished one is never done again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from engine.lifecycle.window import Marker
from engine.tracking.files import read_json, write_json

STATE_FILE = "state.json"


class InProgress(BaseModel):
    """A step that trained (or is training) a challenger on one window."""

    model_config = ConfigDict(extra="forbid")

    window: str
    """The window's fingerprint."""
    champion: int
    """The champion's version the step started from."""
    run_dir: str
    fired: list[str]
    trained: bool = False
    version: int | None = None
    """The challenger's registered version."""
    decision: dict[str, Any] | None = None
    """The decision, once recorded in the registry."""


class LoopState(BaseModel):
    """What state.json holds."""

    model_config = ConfigDict(extra="forbid")

    marker: dict[str, Any] | None = None
    """The last finished step's marker (rows seen, newest time)."""
    last_step: str | None = None
    """When the last finished step ran (ISO 8601, UTC)."""
    pending: list[str] = []
    """Triggers that fired while the step waited for labels."""
    in_progress: InProgress | None = None
    steps: int = 0
    """Finished steps."""

    @property
    def last_marker(self) -> Marker | None:
        return Marker(**self.marker) if self.marker else None


def read_state(state_dir: Path) -> LoopState:
    """The loop's state; a fresh one before the first step."""
    path = state_dir / STATE_FILE
    if not path.is_file():
        return LoopState()
    return LoopState.model_validate(read_json(path, fix=f"Delete {path} to start the loop "
                                                       "afresh."))


def write_state(state_dir: Path, state: LoopState) -> None:
    write_json(state_dir / STATE_FILE, state.model_dump(mode="json"))
