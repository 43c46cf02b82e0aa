"""Adaptive micro-batching: requests that arrive while the model is busy are predicted together.

One prediction costs about the same for one row as for a hundred (the schema checks, the
feature transformers and the model's own overhead dominate), so under concurrent load the
service predicts every waiting request in one call and hands each its own rows back. Nothing
waits on a timer: an idle service predicts a lone request at once, and a batch is simply what
queued up during the previous prediction. Requests are only batched with others sending the
same columns and dtypes; if a batch fails, its requests are predicted one by one, so each gets
its own answer (and its own error). A request whose client gave up before its turn (its
deadline passed) is dropped, not predicted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

Prediction = tuple[pd.DataFrame, list[str]]


@dataclass
class _Waiting:
    rows: pd.DataFrame
    answer: asyncio.Future[Prediction] = field(repr=False)

    @property
    def signature(self) -> tuple[Any, ...]:
        return tuple(self.rows.columns), tuple(map(str, self.rows.dtypes))


class MicroBatcher:
    """Queues requests' rows and predicts what has queued up in one call to ``predict``,
    on ``executor`` (one call at a time)."""

    def __init__(self, predict: Callable[[pd.DataFrame], Prediction], executor: Executor, *,
                 max_rows: int, on_batch: Callable[[int], None] | None = None,
                 linger_s: float = 0.0) -> None:
        self._predict = predict
        self._executor = executor
        self._max_rows = max_rows
        self._on_batch = on_batch or (lambda rows: None)
        self._linger_s = linger_s
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue()

    async def predict(self, rows: pd.DataFrame) -> Prediction:
        """The predictions for ``rows`` (and the schema's warnings about them)."""
        answer: asyncio.Future[Prediction] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Waiting(rows, answer))
        return await answer

    async def run(self) -> None:
        """Serve the queue until cancelled."""
        while True:
            groups: dict[tuple[Any, ...], list[_Waiting]] = {}
            for waiting in await self._next_batch():
                groups.setdefault(waiting.signature, []).append(waiting)
            for group in groups.values():
                await self._answer(group)

    async def _next_batch(self) -> list[_Waiting]:
        """The requests waiting (at least one), up to about ``max_rows`` rows; with
        ``linger_s``, those that arrive within that long of the first too (a shadow trades its
        latency, which nobody waits for, for fewer and larger model calls)."""
        batch: list[_Waiting] = []
        size = 0
        while not batch or (not self._queue.empty() and size < self._max_rows):
            waiting = await self._queue.get()
            if not waiting.answer.done():  # else its request was cancelled
                batch.append(waiting)
                size += len(waiting.rows)
            if len(batch) == 1 and self._linger_s:
                await asyncio.sleep(self._linger_s)
        return batch

    async def _answer(self, group: list[_Waiting]) -> None:
        rows = group[0].rows if len(group) == 1 else pd.concat(
            [waiting.rows for waiting in group], ignore_index=True)
        try:
            predictions, warnings = await self._call(rows)
        except Exception as error:
            if len(group) == 1:
                _settle(group[0].answer, error)
                return
            for waiting in group:  # one bad request must not fail the others
                await self._answer([waiting])
            return
        self._on_batch(len(rows))
        start = 0
        for waiting in group:
            stop = start + len(waiting.rows)
            _settle(waiting.answer, (predictions.iloc[start:stop].reset_index(drop=True),
                                     warnings))
            start = stop

    async def _call(self, rows: pd.DataFrame) -> Prediction:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._predict,
                                                                rows)


def _settle(answer: asyncio.Future[Prediction], outcome: Prediction | BaseException) -> None:
    if answer.done():  # the client went away and its request was cancelled
        return
    if isinstance(outcome, BaseException):
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)
