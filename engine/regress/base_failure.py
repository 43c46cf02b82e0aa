"""The base side of ``regress --against`` failing: exit 3, never reported as a regression."""

from __future__ import annotations

BASE_FAILED_EXIT = 3


class BaseFailed(Exception):
    """The base commit could not be checked out, installed or run: the comparison has no base.

    Not an EngineError: the user's change is not at fault, and the CLI says so with exit 3.
    """
