"""Drift over the last rows a server answered, for its ``/metrics`` gauges.

:class:`ServingWindow` keeps the last ``monitor.window_rows`` rows a server answered and counts
categories unseen in training, on a thread of its own that wakes once a second, so a request
pays for a queue put and nothing more. On a scrape it measures each column's
:func:`~engine.monitoring.drift.window_distance` (Jensen-Shannon, the window binned by the
reference profile's own edges or categories): the profile is all it needs, so a scrape costs
milliseconds.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from engine.monitoring.columns import PREDICTION
from engine.monitoring.drift import window_distance
from engine.monitoring.prediction_log import as_sent
from engine.tracking.records import ColumnProfile

_Answered = tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]
WAKE_SECONDS = 1.0
"""How often the window takes in what was answered: rows wait at most this long to count."""


class ServingWindow:
    """The last ``rows`` rows answered (inputs as sent, and predictions), for drift gauges;
    ``on_unseen(column, count)`` is told of categories unseen in training as they arrive.

    ``profiles`` are the reference's (input columns and ``_prediction``); ``categories`` the
    schema's categories seen in training, by column, as text; ``sent`` the columns taken as
    sent (:func:`~engine.monitoring.prediction_log.sent_columns`).
    """

    def __init__(self, profiles: Mapping[str, ColumnProfile], categories: Mapping[str, set[str]],
                 *, rows: int, sent: Sequence[str] = (),
                 on_unseen: Callable[[str, int], None]) -> None:
        self._profiles = dict(profiles)
        self._categories = dict(categories)
        self._sent = list(sent)
        self._rows = rows
        self._on_unseen = on_unseen
        self._frames: deque[pd.DataFrame] = deque()
        self._held = 0
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Answered] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="serving-window", daemon=True)
        self._thread.start()

    def add(self, inputs: pd.DataFrame, predictions: pd.DataFrame, *,
            received: pd.DataFrame | None = None) -> None:
        """Take one request's rows (``inputs`` as the model read them, ``received`` as sent)
        and its predictions: one queue put."""
        self._queue.put((inputs, received, predictions))

    def distances(self) -> tuple[int, dict[str, float]]:
        """The rows in the window, and each profiled column's distance over them."""
        with self._lock:
            frames = list(self._frames)
        if not frames:
            return 0, {}
        window = pd.concat(frames, ignore_index=True).tail(self._rows)
        return len(window), {name: window_distance(profile, window[name])
                             for name, profile in self._profiles.items() if name in window}

    def close(self) -> None:
        """Take in what is queued, then stop the thread."""
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(WAKE_SECONDS)
            taken = []
            while True:
                try:
                    taken.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if taken:
                inputs, received, predictions = zip(*taken, strict=True)
                frame = as_sent(inputs, received, self._sent)
                frame[PREDICTION] = pd.concat(
                    [answer["prediction"] for answer in predictions]).to_numpy()
                self._take(frame)
            if stopping:
                return

    def _take(self, frame: pd.DataFrame) -> None:
        for name, known in self._categories.items():
            if name in frame:
                present = frame[name].dropna()
                unseen = int((~present.map(str).isin(known)).sum())
                if unseen:
                    self._on_unseen(name, unseen)
        with self._lock:
            self._frames.append(frame)
            self._held += len(frame)
            while self._held - len(self._frames[0]) >= self._rows:
                self._held -= len(self._frames.popleft())


def schema_categories(schema: Mapping[str, Any]) -> dict[str, set[str]]:
    """The categories each categorical column of a bundle's schema saw in training, as text."""
    return {column["name"]: {str(value) for value in column["categories"]}
            for column in schema["columns"]
            if column["kind"] == "categorical" and column.get("categories") is not None}
