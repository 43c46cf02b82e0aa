"""The user-facing error hierarchy.

Every mistake a user can make (config, data, request) raises an ``EngineError`` subclass whose
message names the key or column, the offending value, and the fix or the valid options. The CLI
prints that one message and exits with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EngineError(Exception):
    """A mistake in the user's config, data or request; printed without a traceback."""


class ConfigError(EngineError):
    """A config group, key, value or ``_target_`` that cannot be used."""


class DataError(EngineError):
    """A dataset that cannot be loaded, or that fails a quality check set to fail."""


class EvaluationError(EngineError):
    """A declared evaluation check (a fairness limit) that the trained model fails."""


class SchemaError(EngineError):
    """Input rows that do not match the schema a model was trained on."""


class RecordError(EngineError):
    """A run's record (metrics.json, run.json, a bundle's metadata) that is damaged, or written
    by a newer engine than this one."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (the library's reason), without a final '.'."""
    text = str(error).strip()
    return text.splitlines()[0].rstrip(".") if text else type(error).__name__


def closest(value: str, options: Iterable[str]) -> str | None:
    """The option most like ``value`` (difflib's ratio of at least 0.6), if any."""
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(value: str, options: Iterable[str], prefix: str = "") -> str:
    """Return `` Did you mean 'x'?`` for the closest option, or an empty string.

    >>> did_you_mean("random_forrest", ["random_forest", "svm"])
    " Did you mean 'random_forest'?"
    """
    match = closest(value, options)
    return f" Did you mean '{prefix}{match}'?" if match else ""


def options_hint(options: Iterable[str]) -> str:
    """Format the valid options as ``Valid options: a, b, c.``"""
    return "Valid options: " + ", ".join(sorted(str(o) for o in options)) + "."
