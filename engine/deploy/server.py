"""The REST service of a model bundle: FastAPI on uvicorn (``python -m engine serve``).

- ``POST /invocations``: MLflow's scoring protocol (``engine.deploy.payloads``), answering
  ``{"predictions": [...], "warnings": [...]}``, so MLflow clients work unchanged.
- ``POST /predict``: ``{"records": [...]}`` in, predictions, class probabilities and warnings
  out; the records are validated against the bundle's schema (the OpenAPI spec lists every
  column, and a few of each column's categories as examples; following an alias, the body is
  generic and each request is validated against the version that answers it).
- ``POST /feedback``: a label and/or a business outcome (a conversion, revenue) for a row (or
  every row) of a request answered earlier, by the ``request_id`` its answer carried (the
  ``X-Request-ID`` header, or a new UUID), written to the prediction log beside what was
  predicted; a body none of whose request ids this server answered is a 404.
- ``GET /health`` (alive), ``/ready`` (the model answered a warm-up prediction), ``/metadata``
  (schema, model, metrics, lineage) and ``/metrics`` (Prometheus text: requests, latency
  histogram, errors, rows; rows logged, categories unseen in training, and each column's drift
  over the last ``monitor.window_rows`` rows answered; the version answering, swaps, versions
  that failed to load).
- ``GET /card``: the model card (``engine.card.serving``), Markdown or HTML.

Serving ``NAME@ALIAS`` the app follows the alias (``engine.deploy.model_follower``): a moved-to
version is loaded and warmed up off the event loop, then one reference is swapped; a request
keeps the :class:`ServedVersion` it started on (its schema, batcher, drift window and log tag),
so none fails during a swap. Each prediction answer names its version (``model_version``, and
the ``X-Model-Version`` header; none for a run directory).

Serving an online experiment (``engine.deploy.variant_plan``: an A/B split, a canary, a
shadow), a :class:`~engine.deploy.variant_router.VariantRouter` answers each row with its
variant's pinned version, and the answer names each row's variant and version.

Every prediction is written to the prediction log (``engine.monitoring.prediction_log``; on by
default, ``--no-log`` to stop it) and taken into the drift window
(``engine.monitoring.window``): each costs the request a queue put, the files and statistics are
done on threads of their own, never the model's.

Rows are read by the training data's rules (its ``na_values`` markers and ``dtypes``, kept in the
bundle) and checked by ``check_rows``, as ``python -m engine predict`` does, so both give the
same numbers and the same warnings: a category unseen in training is predicted with a warning
in the response, or refused (422) by a server started with ``strict``. Each request's rows are
checked on their own, then concurrent requests are predicted together
(``engine.deploy.batching``) in one model call on one thread.

Nothing a client sends can knock the server over: :class:`RequestGuard` checks the bearer token
(401), and the body while it streams in, whatever its transfer encoding: its size (413), its
JSON nesting (400) and how long it takes to arrive (408); a request with no answer within the
timeout is a 503. A cell above its size limit or too many rows is a 413, anything else a client
gets wrong a 4xx naming the problem, and :class:`ObservedRequests` counts every answer, an
exception escaping a handler included (a JSON 500 without a traceback; the log has it).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import sys
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import Body, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.card.serving import card_response
from engine.config.schema.monitor import LogConfig
from engine.deploy.batch_predict import apply_reading, check_rows, predict_features
from engine.deploy.batching import MicroBatcher
from engine.deploy.bundle import Bundle
from engine.deploy.input_schema import SHOWN_CATEGORIES, conform
from engine.deploy.model_follower import FollowedAlias, ModelFollower
from engine.deploy.payloads import (
    JsonDepth,
    PayloadError,
    TooLarge,
    check_cell_sizes,
    is_json,
    rows_from_body,
    rows_from_records,
)
from engine.deploy.registry import resolve_model
from engine.deploy.variant_plan import Experiment
from engine.deploy.variant_router import SHADOW_LINGER_S, VariantRouter
from engine.errors import SchemaError, first_line
from engine.monitoring.columns import PREDICTION
from engine.monitoring.prediction_log import (
    PredictionLog,
    bundle_monitor,
    open_log,
    sent_columns,
)
from engine.monitoring.window import ServingWindow, schema_categories
from engine.tracking.records import ReferenceProfile

ENDPOINTS = ("/invocations", "/predict", "/feedback", "/health", "/ready", "/metadata", "/card",
             "/metrics")
OPEN_ENDPOINTS = ("/health",)  # answered without the bearer token
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)
CLIENT_GONE = 499  # nginx's code for a client that closed the connection before its answer
LOG = logging.getLogger("engine.serve")
REQUEST_ID_HEADER = "x-request-id"
MODEL_VERSION_HEADER = "x-model-version"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
SANE_REQUEST_ID = re.compile(REQUEST_ID_PATTERN)
REMEMBERED_REQUESTS = 100_000  # request ids (and their row counts) kept to check feedback
UNKNOWN_IDS_SHOWN = 5  # the unknown request ids a 404 to feedback names
LOG_UPKEEP_SECONDS = 6 * 3600  # the log compacted, and its retention enforced, this often
NO_LABEL = object()  # the label of feedback that sent an outcome alone


class Limits(BaseModel):
    """Request limits: body bytes, rows per request, JSON nesting (MLflow's formats need 4
    levels), characters per cell, and seconds for a request's body to arrive and its answer."""

    max_body_bytes: int = 10 * 1024 * 1024
    max_rows: int = 10_000
    max_depth: int = 32
    max_cell_chars: int = 65_536
    timeout_s: float = 60.0


class PredictResponse(BaseModel):
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None
    warnings: list[str] = []
    model_version: int | None = Field(description="The registered version that answered (also "
                                                  "the X-Model-Version header); null for a run "
                                                  "directory.")
    request_id: str = Field(description="Send it back with /feedback when the label is known.")


class Feedback(BaseModel):
    """The true label and/or a business outcome of a row (or of every row) of a request
    answered earlier."""

    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(pattern=REQUEST_ID_PATTERN,
                            description="The request_id of the answer (its X-Request-ID header)")
    row: Annotated[int, Strict()] | None = Field(
        default=None, ge=0, description="The row's position in the request; none: every row")
    label: Any = Field(description="One of the model's classes, or a number for a regressor; "
                                   "may be left out when an outcome is sent",
                       json_schema_extra={"type": ["string", "number", "boolean"]})
    outcome: Annotated[float, Strict()] | Annotated[int, Strict()] | None = Field(
        default=None, allow_inf_nan=False,
        description="A business value the answer led to (a conversion as 1 or 0, revenue), "
                    "joined to the variant that answered")

    @model_validator(mode="before")
    @classmethod
    def _outcome_alone(cls, data: Any) -> Any:
        """An outcome needs no label: the label is then absent, which a null label is not."""
        if isinstance(data, dict) and "label" not in data and data.get("outcome") is not None:
            return {**data, "label": NO_LABEL}
        return data


class FeedbackBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feedback: list[Feedback] = Field(min_length=1)


FeedbackBody = Annotated[
    Annotated[Feedback, Tag("one")] | Annotated[FeedbackBatch, Tag("many")],
    Discriminator(lambda body: "many" if isinstance(body, dict) and "feedback" in body else
                  "one" if isinstance(body, dict) else None)]


class FeedbackResponse(BaseModel):
    received: int
    matched: list[bool] = Field(description="Whether this server answered each request id "
                                            "lately; in a body naming at least one it did, "
                                            "every item is kept (a body naming none is a 404)")


class ErrorResponse(BaseModel):
    error: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description} for status, description in (
        (400, "The body cannot be read (not JSON or CSV, none of MLflow's formats, or nested "
              "deeper than the limit)"),
        (401, "The server needs a bearer token (Authorization: Bearer TOKEN)"),
        (408, "The body did not arrive within the timeout"),
        (413, "The body, its row count or one of its cells is above the limits"),
        (422, "The rows do not fit the schema: the column, the value and what was expected"),
        (503, "The model is not ready, or had no answer within the timeout"))}


FEEDBACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    **{status: ERROR_RESPONSES[status] for status in (400, 401, 408, 413, 422)},
    404: {"model": ErrorResponse, "description": "No request id in the body is one this server "
                                                "answered lately"},
    409: {"model": ErrorResponse, "description": "The server keeps no prediction log"}}


class _Refused(Exception):
    """A request refused while its body streams in: the status and the message to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Body:
    """A request's body as the app receives it, refused (:class:`_Refused`) as soon as it passes
    the size limit or, for JSON, the nesting limit; never held here."""

    def __init__(self, receive: Receive, limits: Limits, *, json: bool) -> None:
        self._receive = receive
        self._limits = limits
        self._depth = JsonDepth() if json else None
        self.size = 0
        self.complete = False
        self.refused: _Refused | None = None

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self._check(message.get("body", b""))
            self.complete = not message.get("more_body", False)
        return message

    def _check(self, chunk: bytes) -> None:
        self.size += len(chunk)
        limits = self._limits
        if self.size > limits.max_body_bytes:
            self._refuse(413, f"the body is larger than {limits.max_body_bytes:,} bytes, the "
                              "limit (--max-body-mb)")
        if self._depth is not None and self._depth.feed(chunk) > limits.max_depth:
            self._refuse(400, f"the JSON body is nested more than {limits.max_depth} levels "
                              f"deep, the limit (MLflow's formats need 4); send rows as "
                              "flat objects or lists")

    def _refuse(self, status: int, message: str) -> None:
        self.refused = _Refused(status, message)
        raise self.refused


class RequestGuard:
    """ASGI middleware: the bearer token, then the body's size, nesting and arrival time while it
    streams in (a chunked upload included), and the request's deadline. A refused body is
    answered at once and the connection closed, so the rest of an upload is never read."""

    def __init__(self, app: ASGIApp, *, limits: Limits, token: str | None) -> None:
        self.app = app
        self.limits = limits
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._unauthorized(scope["path"], headers) or self._declared_size(headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        body = _Body(receive, self.limits, json=is_json(headers.get("content-type", "")))
        started = False

        async def send_unless_refused(message: Message) -> None:
            nonlocal started
            if body.refused is None:  # else the app is answering the error it was raised
                started = True
                await send(message)

        try:
            async with asyncio.timeout(self.limits.timeout_s):
                await self.app(scope, body.receive, send_unless_refused)
        except _Refused:
            pass
        except TimeoutError:
            if started:
                raise
            body.refused = self._late(body)
        if body.refused is not None and not started:
            await _error(body.refused.status, str(body.refused),
                         headers={"connection": "close"})(scope, receive, send)

    def _unauthorized(self, path: str, headers: Headers) -> Response | None:
        if self.token is None or path in OPEN_ENDPOINTS:
            return None
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
                given.strip().encode("latin-1"), self.token.encode()):
            return None
        challenge = 'Bearer realm="engine"' + (', error="invalid_token"' if given else "")
        return _error(401, "this server needs its bearer token: send the header 'Authorization: "
                           "Bearer TOKEN' with the --token (or ENGINE_SERVE_TOKEN) it was "
                           "started with" + ("; the one sent is not it" if given else ""),
                      headers={"www-authenticate": challenge})

    def _declared_size(self, headers: Headers) -> Response | None:
        length = headers.get("content-length")
        if length is None:
            return None
        if not length.isdigit():
            return _error(400, f"Content-Length is not a number: {length[:40]!r}")
        if int(length) <= self.limits.max_body_bytes:
            return None
        return _error(413, f"the body is {int(length):,} bytes, larger than "
                           f"{self.limits.max_body_bytes:,} bytes, the limit (--max-body-mb)",
                      headers={"connection": "close"})

    def _late(self, body: _Body) -> _Refused:
        seconds = f"{self.limits.timeout_s:g} s"
        if not body.complete:
            return _Refused(408, f"the body did not arrive within {seconds} (--timeout); "
                                 f"{body.size:,} bytes came")
        return _Refused(503, f"no answer within {seconds} (--timeout): the model is busy; "
                             "retry later")


class _Metrics:
    """The Prometheus counters and histograms /metrics shows."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("engine_requests", "Requests by endpoint and status code.",
                                ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("engine_request_latency_seconds", "Request latency by "
                                 "endpoint.", ["endpoint"], buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.errors = Counter("engine_request_errors", "Requests answered with an error, by "
                              "kind.", ["endpoint", "kind"], registry=self.registry)
        self.rows = Counter("engine_predicted_rows", "Rows predicted.", registry=self.registry)
        self.batch_rows = Histogram("engine_batch_rows", "Rows per model call (concurrent "
                                    "requests are predicted together).", buckets=BATCH_BUCKETS,
                                    registry=self.registry)
        self.logged = Counter("engine_logged_rows", "Rows written to the prediction log.",
                              registry=self.registry)
        self.feedback = Counter("engine_feedback_labels", "Labels received by /feedback, by "
                                "whether this server answered their request.", ["matched"],
                                registry=self.registry)
        self.unseen = Counter("engine_unseen_categories", "Values of a category unseen in "
                              "training, by column.", ["column"], registry=self.registry)
        self.drift = Gauge("engine_drift_jensenshannon", "Jensen-Shannon distance of each "
                           "column over the drift window to its training reference (0: same "
                           "shares, 1: none in common).", ["column"], registry=self.registry)
        self.window_rows = Gauge("engine_drift_window_rows", "Rows in the drift window (the "
                                 "last monitor.window_rows rows answered by the current "
                                 "version).", registry=self.registry)
        self.version = Gauge("engine_model_version", "The registered version answering (0: a "
                             "run directory, not a registered version).", registry=self.registry)
        self.swaps = Counter("engine_model_swaps", "Versions swapped in as the followed alias "
                             "moved.", registry=self.registry)
        self.load_failures = Counter("engine_model_load_failures", "Versions the followed alias "
                                     "named that could not be loaded (the server kept its "
                                     "version), by version.", ["version"],
                                     registry=self.registry)

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.latency.labels(endpoint).observe(seconds)
        self.requests.labels(endpoint, str(status)).inc()
        if status >= 400:
            self.errors.labels(endpoint, "client" if status < 500 else "server").inc()


class ObservedRequests:
    """ASGI middleware, outermost: every request counted with its status and latency. An
    exception escaping a handler is logged with its traceback and answered with a JSON 500
    that has none; a client gone before its answer counts as 499."""

    def __init__(self, app: ASGIApp, *, metrics: _Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 0

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except ClientDisconnect:
            status = status or CLIENT_GONE
        except Exception:
            LOG.exception("%s %s failed", scope["method"], scope["path"])
            if not status:
                await _error(500, "internal error: the server's log has the details")(
                    scope, receive, observed_send)
        finally:
            endpoint = scope["path"] if scope["path"] in ENDPOINTS else "other"
            self.metrics.observe(endpoint, status or 500, time.perf_counter() - started)


@dataclass(eq=False)
class ServedVersion:
    """One model a server answers with, and what is its alone: the row model requests are
    validated with, the batcher of its model calls, its drift window and its prediction log
    (rows tagged with its version). A request keeps the version it started on to the end, so
    a swap fails none; ``in_flight`` counts them, for the old version to be closed after."""

    bundle: Bundle
    lineage: dict[str, Any]
    record_model: type[BaseModel]
    record_list: TypeAdapter[list[Any]]
    batcher: MicroBatcher
    window: ServingWindow
    log: PredictionLog | None
    in_flight: int = 0
    batching: asyncio.Task[None] | None = None

    @property
    def version(self) -> int | None:
        """The registered version; None for a run directory."""
        version = (self.lineage.get("registered") or {}).get("version")
        return int(version) if version is not None else None

    @property
    def columns(self) -> list[str]:
        return [column["name"] for column in self.bundle.schema["columns"]]

    @property
    def headers(self) -> dict[str, str]:
        """The headers naming the version that answered (none for a run directory)."""
        return {} if self.version is None else {MODEL_VERSION_HEADER: str(self.version)}

    def records(self, given: Sequence[Any]) -> list[dict[str, Any]]:
        """``/predict``'s records as dicts keyed by column, validated against this version's
        schema (unless the body's model was this version's row model already); a SchemaError
        naming the record and the column otherwise."""
        if not all(isinstance(record, self.record_model) for record in given):
            try:
                given = self.record_list.validate_python(given)
            except ValidationError as error:
                raise SchemaError(_invalid_request_message(RequestValidationError(
                    [{**problem, "loc": ("body", "records", *problem["loc"])}
                     for problem in error.errors()]))) from None
        return [record.model_dump(by_alias=True) for record in given]

    def close(self) -> None:
        """Take in the window's rows and write the log's (both wait for their threads)."""
        self.window.close()
        if self.log is not None:
            self.log.close()


class FollowedPredictRequest(BaseModel):
    """The body of ``/predict`` on a server following an alias (the versions it answers with
    may differ in their columns, so each request is checked against the schema of the version
    that answers it: ``GET /metadata``) or serving an experiment (a record may carry the
    assignment key beside the input columns)."""

    records: list[dict[str, Any]] = Field(min_length=1, description=(
        "Rows to predict, one object per row, keyed by column; checked against the input "
        "schema of the version that answers (GET /metadata)."))


def served_version(bundle: Bundle, lineage: dict[str, Any] | None, *,
                   predictor: ThreadPoolExecutor, limits: Limits, metrics: _Metrics,
                   log: bool | Path, variant: str | None = None,
                   linger_s: float = 0.0) -> ServedVersion:
    """``bundle`` ready to answer: its row model, batcher (``linger_s`` as for
    :class:`MicroBatcher`), drift window (against its own reference profile) and prediction
    log (``log`` as for :func:`create_app`; its rows tagged with the experiment's
    ``variant``)."""
    settings, profile = bundle_monitor(bundle)
    record_model = schema_record_model(bundle.schema,
                                       missing_markers=bundle.metadata.reading.na_values or ())
    return ServedVersion(
        bundle, lineage or {}, record_model,
        TypeAdapter(list[record_model]),  # type: ignore[valid-type]
        MicroBatcher(lambda rows: _predict(bundle, rows), predictor, max_rows=limits.max_rows,
                     on_batch=metrics.batch_rows.observe, linger_s=linger_s),
        _drift_window(bundle, settings.window_rows, profile, metrics),
        _prediction_log(bundle, settings.log, log, lineage, metrics, variant))


def create_app(bundle: Bundle, *, lineage: dict[str, Any] | None = None,
               limits: Limits | None = None, strict: bool = False,
               token: str | None = None, log: bool | Path = True,
               follow: FollowedAlias | None = None, trust_pickle: bool = False,
               experiment: Experiment | None = None) -> FastAPI:
    """The app serving ``bundle``; ``lineage`` (run directory, registry version) goes to
    /metadata. With ``strict`` a category unseen in training or an extra column is a 422, as
    ``predict --strict`` refuses it; otherwise a warning in the response. With ``token`` every
    endpoint but /health needs ``Authorization: Bearer TOKEN``. ``log``: True logs as the
    bundle's ``monitor.log`` settings say, a folder logs there, False logs nothing. With
    ``follow`` the app answers with the version the alias names, swapped in as it moves
    (``trust_pickle`` as for :func:`load_bundle`); the log stays in its first folder. With
    ``experiment`` (whose control is ``bundle``) each row is answered by its variant, and a
    shadow is fed on a thread of its own, off the live answer's path."""
    limits = limits or Limits()
    state: dict[str, Any] = {"ready": False, "reason": "warming up"}
    # One model call at a time, on one thread: concurrent requests are batched into it, and
    # on a busy host a model's own OpenMP pool (or a second call) fighting for cores is what
    # collapses throughput. Measured with bench_serving.py --load on 2 cores (hist_gbm, one
    # row a request, 16 clients): one call on one thread kept 0.57 of its quiet throughput
    # (86-95 of 158-160 requests/s), two concurrent one-thread calls 0.33 (34-45 of 113-129).
    predictor = ThreadPoolExecutor(1, thread_name_prefix="predict",
                                   initializer=one_thread_per_call)
    metrics = _Metrics()
    served = served_version(bundle, lineage, predictor=predictor, limits=limits,
                            metrics=metrics, log=log,
                            variant=experiment.variants[0].name if experiment else None)
    later_log: bool | Path = served.log.root if served.log is not None else False
    shadow_predictor = ThreadPoolExecutor(1, thread_name_prefix="shadow",
                                          initializer=one_thread_per_call)
    router = None if experiment is None else VariantRouter(
        experiment, [served, *(served_version(
            variant.bundle, variant.lineage, predictor=predictor, limits=limits,
            metrics=metrics, log=later_log, variant=variant.name)
            for variant in experiment.variants[1:])],
        None if experiment.shadow is None else served_version(
            experiment.shadow.bundle, experiment.shadow.lineage, predictor=shadow_predictor,
            limits=limits, metrics=metrics, log=later_log, variant=experiment.shadow.name,
            linger_s=SHADOW_LINGER_S),
        registry=metrics.registry, strict=strict)
    # closed at shutdown: the current one (an experiment's all), and any still retiring
    open_versions = {served, *(router.versions if router else ())}
    retiring: set[asyncio.Task[None]] = set()
    metrics.version.set(served.version or 0)
    answered: OrderedDict[str, tuple[int, list[Any]]] = OrderedDict()  # id -> rows, classes

    def load(version: int) -> ServedVersion:
        """A version the followed alias moved to, loaded and warmed up (on the follower's
        thread: its model call waits its turn on the prediction thread)."""
        assert follow is not None
        bundle, lineage = resolve_model(f"{follow.name}/{version}", follow.registry,
                                        trust_pickle=trust_pickle)
        predictor.submit(_predict, bundle, warm_up_row(bundle.schema)).result()
        return served_version(bundle, lineage, predictor=predictor, limits=limits,
                              metrics=metrics, log=later_log)

    async def swap(new: ServedVersion) -> None:
        """Answer new requests with ``new``; the old version closes once its last finishes."""
        nonlocal served
        new.batching = asyncio.create_task(new.batcher.run())
        open_versions.add(new)
        old, served = served, new
        metrics.version.set(new.version or 0)
        metrics.swaps.inc()
        metrics.drift.clear()  # the new version's window starts empty, against its profile
        metrics.window_rows.set(0)
        state.update(ready=True, reason="ready")
        retired = asyncio.create_task(retire(old))
        retiring.add(retired)
        retired.add_done_callback(retiring.discard)

    async def retire(old: ServedVersion) -> None:
        while old.in_flight:
            await asyncio.sleep(0.05)
        if old.batching is not None:
            old.batching.cancel()
        await asyncio.to_thread(old.close)
        open_versions.discard(old)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        try:
            for live in router.live if router else [served]:
                await loop.run_in_executor(predictor, _predict, live.bundle,
                                           warm_up_row(live.bundle.schema))
            state.update(ready=True, reason="ready")
        except Exception as error:  # the server still answers /health and /metadata
            state["reason"] = f"the warm-up prediction failed: {first_line(error)}"
        if router is not None and router.shadow is not None:
            shadow = router.shadow.bundle
            try:
                await loop.run_in_executor(shadow_predictor, _predict, shadow,
                                           warm_up_row(shadow.schema))
            except Exception as error:  # a shadow never holds the live answers back
                LOG.warning("the shadow's warm-up prediction failed: %s", first_line(error))
        for version in open_versions:
            version.batching = asyncio.create_task(version.batcher.run())
        follower = None if follow is None else ModelFollower(
            follow, serving=served.version, load=load,
            install=lambda new: asyncio.run_coroutine_threadsafe(swap(new), loop).result(),
            on_failure=lambda version: metrics.load_failures.labels(str(version)).inc())
        if follower is not None:
            follower.start()
        yield
        if follower is not None:
            follower.stop()
        for version in open_versions:
            if version.batching is not None:
                version.batching.cancel()
        predictor.shutdown(wait=False, cancel_futures=True)
        shadow_predictor.shutdown(wait=False, cancel_futures=True)
        for version in list(open_versions):
            version.close()  # what the log buffered is written before the process ends

    app = FastAPI(title=f"engine model: {bundle.metadata.model}",
                  description="Predictions from an engine model bundle.", lifespan=lifespan)
    app.state.log_root = served.log.root.resolve() if served.log is not None else None
    app.add_middleware(RequestGuard, limits=limits, token=token)
    app.add_middleware(ObservedRequests, metrics=metrics)  # the last added is the outermost
    if follow is None and router is None:  # one version: the OpenAPI spec lists its columns
        # The row model is made at run time from the bundle's schema, so mypy cannot take it
        # as a type
        records_type = list[served.record_model]  # type: ignore[name-defined]
        request_model: type[BaseModel] = create_model("PredictRequest", records=(
            records_type, Field(min_length=1, description="Rows to predict, one object per "
                                                          "row, keyed by column.")))
    else:
        request_model = FollowedPredictRequest

    def keyed(rows: pd.DataFrame, records: Sequence[Any]) -> pd.DataFrame:
        return rows if router is None else router.with_key(rows, records)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> Response:
        return _error(422, _invalid_request_message(error))

    async def answer(request: Request, rows_of: Callable[[ServedVersion], pd.DataFrame],
                     shape: Callable[[ServedVersion, pd.DataFrame, list[str]], dict[str, Any]]
                     ) -> Response:
        started, request_id = time.perf_counter(), _request_id(request)
        version = served  # the request is answered by this version to its end
        version.in_flight += 1
        try:
            response = await predicted(version, request_id, started, rows_of, shape)
        finally:
            version.in_flight -= 1
        response.headers[REQUEST_ID_HEADER] = request_id
        if router is None:  # an experiment's answer names its variants itself
            response.headers.update(version.headers)
        return response

    async def predicted(version: ServedVersion, request_id: str, started: float,
                        rows_of: Callable[[ServedVersion], pd.DataFrame],
                        shape: Callable[[ServedVersion, pd.DataFrame, list[str]], dict[str, Any]]
                        ) -> Response:
        if not state["ready"]:
            return _error(503, f"not ready: {state['reason']}")
        try:
            rows = rows_of(version)
            if len(rows) > limits.max_rows:
                raise TooLarge(f"{len(rows)} rows; the limit is {limits.max_rows} a request "
                               "(--max-rows)")
            check_cell_sizes(rows, limits.max_cell_chars)
            received = apply_reading(rows, version.bundle.metadata.reading)
            if router is not None:
                routed = await router.predict(received, request_id=request_id,
                                              started=started)
                predictions, warnings = routed.predictions, routed.warnings
            else:
                features, warnings = check_rows(version.bundle, received, strict=strict)
                predictions, _ = await version.batcher.predict(features)
        except TooLarge as error:
            return _error(413, str(error))
        except PayloadError as error:
            return _error(400, str(error))
        except SchemaError as error:
            return _error(422, str(error))
        except (ValueError, TypeError) as error:  # the model refused values it cannot score
            return _error(422, f"the model cannot score these rows: {first_line(error)}")
        metrics.rows.inc(len(predictions))
        answered[request_id] = (len(predictions), version.bundle.metadata.classes)
        answered.move_to_end(request_id)
        if len(answered) > REMEMBERED_REQUESTS:
            answered.popitem(last=False)
        if router is not None:
            return JSONResponse({**shape(version, predictions, warnings), **routed.fields,
                                 "request_id": request_id}, headers=routed.headers)
        if version.log is not None:
            version.log.record(features, predictions, request_id=request_id,
                               received=received,
                               latency_ms=(time.perf_counter() - started) * 1000)
        version.window.add(features, predictions, received=received)
        return JSONResponse({**shape(version, predictions, warnings),
                             "model_version": version.version, "request_id": request_id})

    @app.post("/invocations", openapi_extra=INVOCATIONS_BODY, responses=ERROR_RESPONSES,
              summary="MLflow scoring protocol: dataframe_split, dataframe_records, instances, "
                      "inputs or CSV")
    async def invocations(request: Request) -> Response:
        body = await request.body()
        content_type = request.headers.get("content-type", "application/json")
        return await answer(
            request, lambda version: rows_from_body(
                body, content_type, version.columns,
                na_values=version.bundle.metadata.reading.na_values),
            lambda version, frame, warnings: {"predictions": _native(frame["prediction"]),
                                              "warnings": warnings})

    async def predict(request: Request, payload: Any) -> Response:
        return await answer(request, lambda version: keyed(rows_from_records(
                                version.records(payload.records)), payload.records),
                            lambda version, frame, warnings: {
                                "predictions": _native(frame["prediction"]),
                                "probabilities": _probabilities(
                                    frame, version.bundle.metadata.classes),
                                "warnings": warnings})

    # The body's model is built from the bundle's schema at run time (or, following an alias,
    # is generic), so it is set here rather than written as an annotation.
    predict.__annotations__["payload"] = request_model
    app.post("/predict", response_model=PredictResponse, responses=ERROR_RESPONSES,
             summary="Records in; predictions and class probabilities out")(predict)

    @app.post("/feedback", response_model=FeedbackResponse, responses=FEEDBACK_RESPONSES,
              summary="The true label and/or outcome of a request's row (or rows) answered "
                      "earlier")
    async def feedback(payload: Annotated[FeedbackBody, Body()]) -> Response:
        items = payload.feedback if isinstance(payload, FeedbackBatch) else [payload]
        if len(items) > limits.max_rows:
            return _error(413, f"{len(items)} labels; the limit is {limits.max_rows} a request "
                               "(--max-rows)")
        prediction_log = served.log
        if prediction_log is None:
            return _error(409, "this server keeps no prediction log (it was started with "
                               "--no-log, or monitor.log.enabled is false), so a label has "
                               "nowhere to go; serve with the log on to collect feedback")
        unknown = _unknown_requests(items, answered)
        if unknown is not None:
            return _error(404, unknown)
        try:
            labels = [_checked_label(item, answered.get(item.request_id),
                                     served.bundle.metadata.classes,
                                     f"feedback[{index}]" if isinstance(payload, FeedbackBatch)
                                     else "feedback")
                      for index, item in enumerate(items)]
        except SchemaError as error:
            return _error(422, str(error))
        matched = [item.request_id in answered for item in items]
        for item, label, known in zip(items, labels, matched, strict=True):
            prediction_log.record_feedback(item.request_id, label, row=item.row,
                                           outcome=None if item.outcome is None else
                                           float(item.outcome))
            metrics.feedback.labels(str(known).lower()).inc()
        return JSONResponse({"received": len(items), "matched": matched})

    @app.get("/health", summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: the model answered a warm-up prediction; the "
                               "version answering")
    async def ready() -> Response:
        body = {"ready": state["ready"], "reason": state["reason"],
                "model_version": served.version}
        return JSONResponse(body, status_code=200 if state["ready"] else 503)

    @app.get("/metadata", summary="Input schema, model, metrics and lineage of the version "
                                  "answering")
    async def metadata() -> dict[str, Any]:
        keys = {"task", "target", "classes", "model", "primary", "metrics", "seed",
                "data_fingerprint", "packages", "git"}
        version = served
        return {"model_version": version.version, "schema": version.bundle.schema,
                **version.bundle.metadata.model_dump(mode="json", include=keys),
                "lineage": {"bundle": str(version.bundle.directory), **version.lineage},
                "following": None if follow is None else f"{follow.name}@{follow.alias}",
                "experiment": None if router is None else router.describe(),
                "limits": limits.model_dump()}

    @app.get("/card", summary="The model card of the version answering: Markdown, or HTML "
                              "with ?format=html or Accept: text/html",
             response_class=PlainTextResponse)
    async def card(request: Request, shown: str | None = Query(None, alias="format")) -> Response:
        return await card_response(request, shown, served.bundle.directory, served.lineage,
                                   follow.registry if follow else None)

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics_text() -> Response:
        window = served.window
        rows, distances = await asyncio.to_thread(window.distances)
        if window is served.window:  # else a swap reset the gauges meanwhile
            metrics.window_rows.set(rows)
            for column, distance in distances.items():
                metrics.drift.labels(column).set(distance)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if token is not None:
        _declare_bearer(app)
    return app


def _prediction_log(bundle: Bundle, settings: LogConfig, log: bool | Path,
                    lineage: dict[str, Any] | None, metrics: _Metrics,
                    variant: str | None = None) -> PredictionLog | None:
    """The log ``create_app``'s ``log`` asks for: none, the settings' (when enabled) or one in
    the folder given; its rows carry the registered version the model was served as (its
    number, and its reference ``name/version``)."""
    if log is False or (log is True and not settings.enabled):
        return None
    registered = (lineage or {}).get("registered") or {}
    pinned = "version" in registered
    return open_log(bundle, settings, root=None if log is True else log,
                    version=str(registered["version"]) if pinned else None,
                    registered=f"{registered['name']}/{registered['version']}" if pinned
                    else None, variant=variant, on_written=metrics.logged.inc,
                    upkeep_seconds=LOG_UPKEEP_SECONDS)


def _drift_window(bundle: Bundle, rows: int, profile: ReferenceProfile | None,
                  metrics: _Metrics) -> ServingWindow:
    """The window of the last ``rows`` rows answered: drift against the reference profile's
    input columns and prediction (none without a profile), unseen categories counted."""
    profiles = {**profile.columns, PREDICTION: profile.prediction} if profile else {}
    return ServingWindow(profiles, schema_categories(bundle.schema), rows=rows,
                         sent=sent_columns(bundle.schema),
                         on_unseen=lambda column, count: metrics.unseen.labels(column).inc(count))


def _request_id(request: Request) -> str:
    """The client's ``X-Request-ID`` when it is a sane token (letters, digits, ``._:-``, up to
    128 characters), else a new UUID: the id its answer, its log rows and its feedback share."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if SANE_REQUEST_ID.match(given) else str(uuid.uuid4())


def _unknown_requests(items: Sequence[Feedback], answered: Mapping[str, object]) -> str | None:
    """The 404's message when no item's request id is one this server answered (a mistyped
    id, or another server's); None when one is known: a mixed body is kept whole, each item
    answered with whether it matched."""
    if any(item.request_id in answered for item in items):
        return None
    ids = list(dict.fromkeys(item.request_id for item in items))
    shown = ", ".join(map(repr, ids[:UNKNOWN_IDS_SHOWN]))
    more = f" and {len(ids) - UNKNOWN_IDS_SHOWN} more" if len(ids) > UNKNOWN_IDS_SHOWN else ""
    return (f"feedback: unknown request id {shown}{more}: this server keeps the ids of the last "
            f"{REMEMBERED_REQUESTS} requests it answered and logged, since it started; send the "
            "request_id (X-Request-ID) of one of its answers. Nothing was logged.")


def _checked_label(item: Feedback, answered: tuple[int, list[Any]] | None,
                   classes: list[Any], where: str) -> Any:
    """The label as the log keeps it (the model's own class value, or a float for a
    regressor); a SchemaError for a label the model that answered the request (``answered``:
    its rows and classes, None when unknown: ``classes``, the current model's) cannot have
    predicted, or a row the request did not have."""
    label = item.label
    rows, classes = answered if answered is not None else (None, classes)
    if item.row is not None and rows is not None and item.row >= rows:
        raise SchemaError(f"{where}: row {item.row} is out of range: request {item.request_id} "
                          f"had {rows} row(s), numbered from 0")
    if label is NO_LABEL:
        return None
    if classes:
        for known in classes:
            if isinstance(label, str | int | float | bool) and str(label) == str(known):
                return known
        raise SchemaError(f"{where}: label {label!r} is not one of the model's classes "
                          f"({', '.join(map(repr, classes))})")
    if isinstance(label, bool) or not isinstance(label, int | float) or not np.isfinite(label):
        raise SchemaError(f"{where}: label {label!r} is not a number; the model is a regressor, "
                          "send the true value")
    return float(label)


def _declare_bearer(app: FastAPI) -> None:
    """The OpenAPI spec says every operation but /health needs the bearer token (so /docs has
    an Authorize button and a fuzzer can check that none answers without it)."""
    spec = app.openapi()
    spec["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    spec["security"] = [{"bearer": []}]
    for path in OPEN_ENDPOINTS:
        for operation in spec["paths"][path].values():
            operation["security"] = []


def one_thread_per_call() -> None:
    """A prediction thread's initializer: its model calls use one thread (OpenMP's pool is set
    per calling thread, BLAS's and PyTorch's intra-op pool for the process).

    Set once per thread, not around each call: ``threadpoolctl`` takes about 9 ms to find the
    loaded libraries each time, and restoring BLAS's process-wide setting after each call would
    race between concurrent calls."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


INVOCATIONS_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {
        "type": "object", "minProperties": 1,
        "description": "Exactly one of dataframe_split, dataframe_records, instances or inputs "
                       "(and optionally params), as MLflow's scoring server takes them.",
        "properties": {
            "dataframe_split": {"type": "object", "required": ["columns", "data"], "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "minItems": 1, "items": {"type": "array"}}}},
            "dataframe_records": {"type": "array", "minItems": 1, "items": {"type": "object"}},
            "instances": {"type": "array", "minItems": 1},
            "inputs": {"type": ["object", "array"]},
            "params": {"type": "object"}}}},
    "text/csv": {"schema": {"type": "string", "minLength": 1,
                            "description": "A header row with the column names, then rows"}}}}}


def schema_record_model(schema: dict[str, Any], *,
                        missing_markers: Sequence[str] = ()) -> type[BaseModel]:
    """A pydantic model of one row: every column required (null allowed for missing), numbers
    (not booleans or text) or one of the training file's ``missing_markers`` (``"?"``) for
    numeric columns, text for free-text columns, a string, number or boolean for the others, with
    a few of the categories seen in training as examples (an unseen one is the schema check's to
    warn about or refuse); other keys are ignored."""
    fields: dict[str, Any] = {}
    markers = Literal[tuple(missing_markers)] if missing_markers else None
    for index, column in enumerate(schema["columns"]):
        known = column.get("categories") or []
        if column["kind"] == "numeric":
            number: Any = Annotated[float, Strict()]
            annotation: Any = number | markers | None if markers else number | None
        elif column["kind"] == "text":
            annotation = str | None
        else:
            annotation = str | float | bool | None
        described = (f"One of the {len(known)} categories seen in training, e.g. "
                     f"{', '.join(map(str, known[:SHOWN_CATEGORIES]))}; another is predicted "
                     "with a warning (refused by a strict server)." if known else None)
        fields[f"column_{index}"] = (annotation, Field(
            alias=column["name"], examples=known[:SHOWN_CATEGORIES] or None,
            description=described))
    return create_model("Record", __config__=ConfigDict(extra="ignore"), **fields)


def _invalid_request_message(error: RequestValidationError) -> str:
    """Pydantic's findings as one line: where (record and column), what was expected, what came."""
    problems = []
    for problem in error.errors()[:5]:
        where = [part for part in problem["loc"] if part != "body"]
        if len(where) == 3 and where[0] == "records":
            place = f"record {where[1]}, column '{where[2]}'"
        else:
            place = ".".join(map(str, where)) or "the body"
        given = problem.get("input")
        shown = repr(given) if len(repr(given)) <= 80 else f"{repr(given)[:60]}... (a long value)"
        got = "" if isinstance(given, dict | list) else f" (got {shown})"
        problems.append(f"{place}: {problem['msg']}{got}")
    return "; ".join(problems) + "."


def warm_up_row(schema: dict[str, Any]) -> pd.DataFrame:
    """One plausible row, conformed to the schema: 0 for numbers, the first category seen for
    the others."""
    row = {column["name"]: 0.0 if column["kind"] == "numeric" else
           (column["categories"] or [None])[0] for column in schema["columns"]}
    return conform(pd.DataFrame([row]), schema)[0]


def _predict(bundle: Bundle, features: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The predictions for rows ``check_rows`` conformed (their warnings came with that)."""
    return predict_features(bundle, features), []


def _native(values: pd.Series) -> list[Any]:
    """JSON-ready values: numpy scalars as Python numbers, NaN as null."""
    return [None if isinstance(v, float) and np.isnan(v) else
            v.item() if hasattr(v, "item") else v for v in values.tolist()]


def _probabilities(frame: pd.DataFrame, classes: list[Any]) -> list[dict[str, float]] | None:
    names = [f"proba_{label}" for label in classes]
    if not classes or not all(name in frame for name in names):
        return None
    values = frame[names].to_numpy(float)
    return [dict(zip(map(str, classes), row.tolist(), strict=True)) for row in values]


def _error(status: int, message: str, *, headers: dict[str, str] | None = None
           ) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
