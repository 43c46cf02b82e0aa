"""An online experiment answering requests: each row to its variant, a shadow fed afterwards.

:class:`VariantRouter` places a request's rows (``engine.deploy.variants``), has each variant
check and predict its own rows on the server's prediction thread, and puts the answers back in
the request's order. Each variant logs its rows with its name, version, their places in the
request and the request's latency. A shadow is handed the rows once the live answer is
computed, on a thread and a queue of its own: when its backlog is full the rows are dropped
(counted), and its failures are counted and logged; neither reaches the live answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Gauge

from engine.deploy.batch_predict import check_rows
from engine.deploy.variant_plan import Experiment
from engine.deploy.variants import Assigner
from engine.errors import first_line

if TYPE_CHECKING:
    from engine.deploy.server import ServedVersion

LOG = logging.getLogger("engine.serve")
VARIANT_HEADER = "x-model-variant"
MODEL_VERSION_HEADER = "x-model-version"
SHADOW_BACKLOG = 256
"""Requests a shadow may have waiting; more are dropped (and counted), never waited for."""
SHADOW_LINGER_S = 0.05
"""How long a shadow's batcher waits for more requests after the first: fewer, larger model
calls (bench_serving.py --variants on 2 cores: split + shadow kept 0.78 and 0.71 of one
model's throughput without it, 0.90 and 0.88 with it)."""


@dataclass(frozen=True)
class Routed:
    """A request's answer across variants: the predictions in the request's order, the
    schema's warnings, each row's variant and version."""

    predictions: pd.DataFrame
    warnings: list[str]
    variants: list[str]
    versions: list[int | None]

    @property
    def fields(self) -> dict[str, Any]:
        """The answer's fields beside the predictions: ``variants`` and ``model_versions`` row
        by row, ``model_version`` (and ``variant``) when one variant answered every row."""
        one = len(set(self.variants)) == 1
        return {"variants": self.variants, "model_versions": self.versions,
                "variant": self.variants[0] if one else None,
                "model_version": self.versions[0] if one else None}

    @property
    def headers(self) -> dict[str, str]:
        """``X-Model-Variant`` (and ``X-Model-Version``) when one variant answered the request."""
        if len(set(self.variants)) != 1:
            return {}
        version = self.versions[0]
        return {VARIANT_HEADER: self.variants[0],
                **({} if version is None else {MODEL_VERSION_HEADER: str(version)})}


class VariantRouter:
    """Answers requests with ``live`` (served versions in the experiment's order; their logs
    tagged with their variant's name) and feeds ``shadow``; counters on ``registry``."""

    def __init__(self, experiment: Experiment, live: Sequence[ServedVersion],
                 shadow: ServedVersion | None, *, registry: CollectorRegistry,
                 strict: bool) -> None:
        self.experiment = experiment
        self.live = list(live)
        self.shadow = shadow
        self._strict = strict
        self._assigner = Assigner(experiment.key, experiment.seed)
        self._started = time.monotonic()
        self._backlog = 0
        self._shadowing: set[asyncio.Task[None]] = set()
        self._requests = Counter("engine_variant_requests", "Requests answered, by the variant "
                                 "that answered rows of them.", ["variant"], registry=registry)
        self._rows = Counter("engine_variant_rows", "Rows answered (a shadow's: predicted and "
                             "logged), by variant.", ["variant"], registry=registry)
        self._share = Gauge("engine_variant_share", "Each live variant's share of keys now, in "
                            "percent.", ["variant"], registry=registry)
        self._shadow_failures = Counter("engine_shadow_failures", "Shadow predictions that "
                                        "failed (the live answer was not touched).",
                                        ["variant"], registry=registry)
        self._shadow_dropped = Counter("engine_shadow_dropped_rows", "Rows the shadow's full "
                                       "backlog dropped.", ["variant"], registry=registry)
        for variant, share in zip(self.names, self.shares(), strict=True):
            self._share.labels(variant).set(share)

    @property
    def names(self) -> list[str]:
        return [variant.name for variant in self.experiment.variants]

    @property
    def versions(self) -> list[ServedVersion]:
        """Every version the experiment serves, the shadow's included."""
        return [*self.live, *([self.shadow] if self.shadow else [])]

    def shares(self) -> list[float]:
        """The live variants' shares now (a canary's moves along its ramp)."""
        return self.experiment.shares_at(time.monotonic() - self._started)

    def with_key(self, rows: pd.DataFrame, records: Sequence[Any]) -> pd.DataFrame:
        """``/predict``'s rows with the key column put back from the records as sent (the
        schema's record model keeps only input columns; the key may be an id)."""
        key = self.experiment.key
        if key is None or key in rows or not any(
                isinstance(record, dict) and key in record for record in records):
            return rows
        keyed = rows.copy(deep=False)
        keyed[key] = pd.Series([record.get(key) if isinstance(record, dict) else None
                                for record in records], dtype=object)
        return keyed

    async def predict(self, received: pd.DataFrame, *, request_id: str,
                      started: float) -> Routed:
        """Each row predicted by its variant, logged, and handed to the shadow; ``started``:
        the request's ``perf_counter`` start, for the latency logged."""
        key = self.experiment.key
        keys = received[key].tolist() if key is not None and key in received else None
        shares = self.shares()
        for variant, share in zip(self.names, shares, strict=True):
            self._share.labels(variant).set(share)
        assigned = self._assigner.assign(keys, len(received), shares)
        groups = [np.flatnonzero(assigned == index) for index in range(len(self.live))]
        used = [(index, rows) for index, rows in enumerate(groups) if rows.size]
        parts = [received if len(rows) == len(received) else
                 received.iloc[rows].reset_index(drop=True) for _, rows in used]
        found = await asyncio.gather(*(
            self._predict_part(self.live[index], part)
            for (index, _), part in zip(used, parts, strict=True)), return_exceptions=True)
        latency_ms = (time.perf_counter() - started) * 1000
        answers = [answer for answer in found if not isinstance(answer, BaseException)]
        if len(answers) < len(found):
            raise self._failed(used, parts, found, request_id, latency_ms)
        order = np.argsort(np.concatenate([rows for _, rows in used]), kind="stable")
        warnings: list[str] = []
        for (index, rows), part, (features, predictions, told) in zip(used, parts, answers,
                                                                      strict=True):
            version, name = self.live[index], self.names[index]
            if version.log is not None:
                version.log.record(features, predictions, request_id=request_id, received=part,
                                   latency_ms=latency_ms, positions=rows.tolist())
            version.window.add(features, predictions, received=part)
            self._requests.labels(name).inc()
            self._rows.labels(name).inc(len(rows))
            warnings += [warning for warning in told if warning not in warnings]
        features = _in_order([features for features, _, _ in answers], order)
        predictions = _in_order([predictions for _, predictions, _ in answers], order)
        self._feed_shadow(features, received, request_id)
        return Routed(predictions, warnings,
                      [self.names[index] for index in assigned],
                      [self.live[index].version for index in assigned])

    async def _predict_part(self, version: ServedVersion, rows: pd.DataFrame
                            ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        features, warnings = check_rows(version.bundle, rows, strict=self._strict)
        try:
            predictions, _ = await version.batcher.predict(features)
        except Exception as error:
            raise _ModelFailed(features) from error
        return features, predictions, warnings

    def _failed(self, used: list[tuple[int, np.ndarray]], parts: list[pd.DataFrame],
                found: list[Any], request_id: str, latency_ms: float) -> BaseException:
        """The error a request is answered with when a variant's model failed on its rows;
        those rows are logged without a prediction, so ``abtest`` counts the variant's
        errors (a client's mistake, such as a wrong column, is not logged)."""
        for (index, rows), part, answer in zip(used, parts, found, strict=True):
            version = self.live[index]
            if isinstance(answer, _ModelFailed) and version.log is not None:
                version.log.record(answer.features, pd.DataFrame({"prediction": [None] * len(
                    rows)}, dtype=object), request_id=request_id, received=part,
                    latency_ms=latency_ms, positions=rows.tolist())
        error = next(answer for answer in found if isinstance(answer, BaseException))
        return error.__cause__ if isinstance(error, _ModelFailed) and error.__cause__ else error

    def _feed_shadow(self, features: pd.DataFrame, received: pd.DataFrame,
                     request_id: str) -> None:
        shadow = self.shadow
        if shadow is None:
            return
        name = self.experiment.shadow.name if self.experiment.shadow else "shadow"
        if self._backlog >= SHADOW_BACKLOG:
            self._shadow_dropped.labels(name).inc(len(features))
            return
        self._backlog += 1
        task = asyncio.create_task(self._shadowed(shadow, name, features, received, request_id))
        self._shadowing.add(task)
        task.add_done_callback(self._shadowing.discard)

    async def _shadowed(self, shadow: ServedVersion, name: str, features: pd.DataFrame,
                        received: pd.DataFrame, request_id: str) -> None:
        """The shadow's answer to a request's rows, logged; a failure counted and logged."""
        started = time.perf_counter()
        try:
            predictions, _ = await shadow.batcher.predict(features)
        except Exception as error:
            self._shadow_failures.labels(name).inc()
            LOG.warning("shadow %s failed on request %s: %s", name, request_id,
                        first_line(error))
            return
        finally:
            self._backlog -= 1
        if shadow.log is not None:
            shadow.log.record(features, predictions, request_id=request_id, received=received,
                              latency_ms=(time.perf_counter() - started) * 1000)
        self._rows.labels(name).inc(len(features))

    def describe(self) -> dict[str, Any]:
        """The experiment for ``/metadata`` (which ``abtest URL`` reads): each variant's name,
        pinned version and share now (the shadow's none), the declared ``split`` by name (None
        for a canary, whose share ramps), and the prediction log's folder as an absolute path
        (None: no log), so that a client started elsewhere finds it."""
        shares = self.shares()
        variants: list[dict[str, Any]] = [
            {"variant": variant.name, "reference": variant.reference, "pinned": variant.pinned,
             "model_version": variant.version, "share": share}
            for variant, share in zip(self.experiment.variants, shares, strict=True)]
        shadow = self.experiment.shadow
        if shadow is not None:
            variants.append({"variant": shadow.name, "reference": shadow.reference,
                             "pinned": shadow.pinned, "model_version": shadow.version,
                             "share": None})
        declared = self.experiment.shares
        log = self.live[0].log
        return {"variants": variants,
                "split": None if declared is None else dict(zip(self.names, declared,
                                                                strict=True)),
                "ramp": None if self.experiment.ramp is None else
                self.experiment.ramp.describe(),
                "key": self.experiment.key, "seed": self.experiment.seed,
                "log": None if log is None else str(log.root.resolve())}


class _ModelFailed(Exception):
    """A variant's model failed on its rows (``features``); the cause is the model's error."""

    def __init__(self, features: pd.DataFrame) -> None:
        super().__init__("the model failed")
        self.features = features


def _in_order(parts: list[pd.DataFrame], order: np.ndarray) -> pd.DataFrame:
    """Parts holding the request's rows variant by variant, put back in the request's order."""
    whole = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    return whole if len(parts) == 1 else whole.take(order).reset_index(drop=True)
