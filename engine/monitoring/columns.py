"""The column names the reference sample and the prediction log share beside a model's input
columns. They start with an underscore, so that an input column keeps its own name."""

from __future__ import annotations

PREDICTION = "_prediction"
PROBABILITY = "_probability:"
"""The prefix of one class's probability column: ``_probability:<class>``."""
TARGET = "_target"
"""The true label: the reference's held-out target, or the log's label joined from feedback."""
REQUEST_ID = "_request_id"
ROW = "_row"
"""A row's position within its request."""
TIME = "_time"
MODEL = "_model"
VERSION = "_version"
REGISTERED = "_registered"
"""The registered reference of the version that answered, ``<name>/<version>`` (``churn/2``);
missing for a model served from a run directory."""
VARIANT = "_variant"
"""The variant of an online experiment that answered the row (``control``, ``challenger``, or as
declared); a shadow's rows ``shadow:<name>``. Missing outside an experiment."""
SHADOW_PREFIX = "shadow:"
LATENCY_MS = "_latency_ms"
"""The server-side latency of the row's request in milliseconds, the same for each of its rows
(a shadow's rows: its own model call's)."""
OUTCOME = "_outcome"
"""A business value sent as feedback (a conversion, revenue), joined from feedback like
``_target``."""


def probability_column(label: object) -> str:
    """The column of one class's probability."""
    return f"{PROBABILITY}{label}"
