"""The shared prediction cache: a model's responses on a set of rows, each method computed once.

Metrics, bootstrap intervals, slices, explanations and the prediction file all read the same
``predict`` / ``predict_proba`` / ``decision_function`` outputs from one :class:`Responses`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


class Responses:
    """The model's predictions on the test rows, each method computed once (or given)."""

    def __init__(self, model: Any, X: Any, given: Mapping[str, np.ndarray] | None = None) -> None:
        self.model, self.X, self.cache = model, X, dict(given or {})

    def subset(self, rows: np.ndarray) -> Responses:
        """The responses computed so far, of the chosen rows only."""
        return Responses(self.model, None, {m: r[rows] for m, r in self.cache.items()})

    def get(self, methods: str | Sequence[str]) -> tuple[str, np.ndarray]:
        for method in (methods,) if isinstance(methods, str) else methods:
            if method in self.cache:
                return method, self.cache[method]
            if hasattr(self.model, method):
                if method not in self.cache:
                    self.cache[method] = np.asarray(getattr(self.model, method)(self.X))
                return method, self.cache[method]
        raise ValueError(f"{type(self.model).__name__} has none of {methods}")
