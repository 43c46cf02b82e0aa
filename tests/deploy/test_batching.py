"""MicroBatcher: what queues during a prediction is predicted in one call, each request gets its
own rows back, and a failing batch falls back to one call per request."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from engine.deploy.batching import MicroBatcher


class GatedModel:
    """Doubles ``x``; the first call waits until released, so requests queue behind it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.calls: list[int] = []

    def __call__(self, rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        if not self.entered.is_set():
            self.entered.set()
            self.gate.wait(timeout=30)
        self.calls.append(len(rows))
        if (rows["x"] < 0).any():
            raise ValueError(f"negative x in {len(rows)} row(s)")
        return pd.DataFrame({"prediction": rows["x"] * 2}), []


async def predict_all(model: GatedModel, requests: list[pd.DataFrame]) -> list[object]:
    batched: list[int] = []
    with ThreadPoolExecutor(1) as executor:
        batcher = MicroBatcher(model, executor, max_rows=100, on_batch=batched.append)
        serving = asyncio.create_task(batcher.run())
        first = asyncio.create_task(batcher.predict(requests[0]))
        await asyncio.to_thread(model.entered.wait, 30)  # the first request is in the model
        rest = [asyncio.create_task(batcher.predict(rows)) for rows in requests[1:]]
        await asyncio.sleep(0.05)  # let them all queue
        model.gate.set()
        answers = await asyncio.gather(first, *rest, return_exceptions=True)
        serving.cancel()
    return answers


def frame(*values: float) -> pd.DataFrame:
    return pd.DataFrame({"x": list(values)})


def test_queued_requests_are_predicted_in_one_call_and_split_back() -> None:
    model = GatedModel()
    requests = [frame(1), frame(2), frame(3, 4), frame(5)]
    answers = asyncio.run(predict_all(model, requests))
    assert model.calls == [1, 4]  # the lone first request, then the three that queued
    assert [list(a[0]["prediction"]) for a in answers] == [[2], [4], [6, 8], [10]]


def test_a_failing_batch_answers_each_request_on_its_own() -> None:
    model = GatedModel()
    answers = asyncio.run(predict_all(model, [frame(1), frame(2), frame(-1), frame(3)]))
    assert model.calls == [1, 3, 1, 1, 1]  # the batch of three failed, then one call each
    assert list(answers[1][0]["prediction"]) == [4]
    assert isinstance(answers[2], ValueError) and "1 row(s)" in str(answers[2])
    assert list(answers[3][0]["prediction"]) == [6]


def test_requests_with_other_columns_are_not_mixed() -> None:
    model = GatedModel()
    other = pd.DataFrame({"x": [7.0], "extra": ["a"]})
    answers = asyncio.run(predict_all(model, [frame(1), frame(2), other, frame(3)]))
    assert model.calls == [1, 2, 1]
    assert [list(a[0]["prediction"]) for a in answers] == [[2], [4], [14.0], [6]]


def test_a_batch_stops_growing_at_max_rows() -> None:
    model = GatedModel()

    async def run() -> None:
        with ThreadPoolExecutor(1) as executor:
            batcher = MicroBatcher(model, executor, max_rows=2)
            serving = asyncio.create_task(batcher.run())
            first = asyncio.create_task(batcher.predict(frame(0)))
            await asyncio.to_thread(model.entered.wait, 30)
            rest = [asyncio.create_task(batcher.predict(frame(i))) for i in range(1, 6)]
            await asyncio.sleep(0.05)
            model.gate.set()
            await asyncio.gather(first, *rest)
            serving.cancel()

    asyncio.run(run())
    assert model.calls == [1, 2, 2, 1]


def test_a_lingering_batcher_waits_for_requests_that_arrive_just_after_the_first() -> None:
    """A shadow's batcher (``linger_s``) predicts a request and one sent right after it in one
    call."""

    async def calls(linger_s: float) -> list[int]:
        model = GatedModel()
        model.entered.set()  # no gate: every call goes straight through
        with ThreadPoolExecutor(1) as executor:
            batcher = MicroBatcher(model, executor, max_rows=100, linger_s=linger_s)
            serving = asyncio.create_task(batcher.run())
            first = asyncio.create_task(batcher.predict(frame(1)))
            await asyncio.sleep(0)  # the batcher takes the first request
            await asyncio.sleep(0)
            await asyncio.gather(first, batcher.predict(frame(2, 3)))
            serving.cancel()
        return model.calls

    assert asyncio.run(calls(1.0)) == [3]
