"""The REST service of a model bundle: FastAPI on uvicorn (``python -m engine serve``).

- ``POST /invocations``: MLflow's scoring protocol (``engine.deploy.payloads``), answering
  ``{"predictions": [...], "warnings": [...]}``, so MLflow clients work unchanged.
- ``POST /predict``: ``{"records": [...]}`` in, predictions, class probabilities and warnings
  out; the records are validated against the bundle's schema (the OpenAPI spec lists every
  column, and a few of each column's categories as examples).
- ``GET /health`` (alive), ``/ready`` (the model answered a warm-up prediction), ``/metadata``
  (schema, model, metrics, lineage) and ``/metrics`` (Prometheus text: requests, latency
  histogram, errors, rows).

Rows are read by the training data's rules (its ``na_values`` markers and ``dtypes``, kept in the
bundle) and checked by ``check_rows``, as ``python -m engine predict`` does, so both give the
same numbers and the same warnings: a category unseen in training is predicted with a warning
in the response, or refused (422) by a server started with ``strict``. Each request's rows are
checked on their own, then concurrent requests are predicted together
(``engine.deploy.batching``). A bad request is a 4xx naming the problem; a body above the size
limit or with too many rows is a 413; nothing a client sends raises past the handlers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, Strict, create_model

from engine.deploy.batch_predict import apply_reading, check_rows, predict_features
from engine.deploy.batching import MicroBatcher
from engine.deploy.bundle import Bundle
from engine.deploy.input_schema import SHOWN_CATEGORIES, conform
from engine.deploy.payloads import PayloadError, rows_from_body, rows_from_records
from engine.errors import SchemaError, first_line

ENDPOINTS = ("/invocations", "/predict", "/health", "/ready", "/metadata", "/metrics")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024, 4096)


class Limits(BaseModel):
    """Request limits: body bytes and rows per request."""

    max_body_bytes: int = 10 * 1024 * 1024
    max_rows: int = 10_000


class PredictResponse(BaseModel):
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None
    warnings: list[str] = []


class ErrorResponse(BaseModel):
    error: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description} for status, description in (
        (400, "The body cannot be read (not JSON or CSV, or none of MLflow's formats)"),
        (413, "The body or its row count is above the limits"),
        (422, "The rows do not fit the schema: the column, the value and what was expected"),
        (503, "The model is not ready"))}


class TooLarge(Exception):
    """A body or a row count above the limits (answered 413)."""


def create_app(bundle: Bundle, *, lineage: dict[str, Any] | None = None,
               limits: Limits | None = None, strict: bool = False) -> FastAPI:
    """The app serving ``bundle``; ``lineage`` (run directory, registry version) goes to
    /metadata. With ``strict`` a category unseen in training or an extra column is a 422, as
    ``predict --strict`` refuses it; otherwise a warning in the response."""
    limits = limits or Limits()
    columns = [column["name"] for column in bundle.schema["columns"]]
    classes = bundle.metadata.classes
    state: dict[str, Any] = {"ready": False, "reason": "warming up"}
    # One prediction thread: the model's own thread pools (OpenMP, BLAS) are made once, not
    # once per request thread, and concurrent requests queue instead of oversubscribing cores.
    predictor = ThreadPoolExecutor(1, thread_name_prefix="predict")
    registry = CollectorRegistry()
    requests = Counter("engine_requests", "Requests by endpoint and status code.",
                       ["endpoint", "status"], registry=registry)
    latency = Histogram("engine_request_latency_seconds", "Request latency by endpoint.",
                        ["endpoint"], buckets=LATENCY_BUCKETS, registry=registry)
    errors = Counter("engine_request_errors", "Requests answered with an error, by kind.",
                     ["endpoint", "kind"], registry=registry)
    rows_predicted = Counter("engine_predicted_rows", "Rows predicted.", registry=registry)
    batch_rows = Histogram("engine_batch_rows", "Rows per model call (concurrent requests are "
                           "predicted together).", buckets=BATCH_BUCKETS, registry=registry)
    batcher = MicroBatcher(lambda rows: _predict(bundle, rows), predictor,
                           max_rows=limits.max_rows, on_batch=batch_rows.observe)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await asyncio.get_running_loop().run_in_executor(
                predictor, _predict, bundle, warm_up_row(bundle.schema))
            state.update(ready=True, reason="ready")
        except Exception as error:  # the server still answers /health and /metadata
            state["reason"] = f"the warm-up prediction failed: {first_line(error)}"
        batching = asyncio.create_task(batcher.run())
        yield
        batching.cancel()
        predictor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title=f"engine model: {bundle.metadata.model}",
                  description="Predictions from an engine model bundle.", lifespan=lifespan)
    record_model = schema_record_model(bundle.schema,
                                       missing_markers=bundle.metadata.reading.na_values or ())
    # The row model is made at run time from the bundle's schema, so mypy cannot take it as a type
    records_type = list[record_model]  # type: ignore[valid-type]
    request_model = create_model("PredictRequest", records=(records_type, Field(
        min_length=1, description="Rows to predict, one object per row, keyed by column.")))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> Response:
        return _error(422, _invalid_request_message(error))

    @app.middleware("http")
    async def observe(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        endpoint = request.url.path if request.url.path in ENDPOINTS else "other"
        started = time.perf_counter()
        length = request.headers.get("content-length", "0")
        if not length.isdigit() or int(length) > limits.max_body_bytes:
            response: Response = _error(413 if length.isdigit() else 400,
                                        f"the body is larger than {limits.max_body_bytes} bytes"
                                        if length.isdigit() else "Content-Length is not a number")
        else:
            response = await call_next(request)
        latency.labels(endpoint).observe(time.perf_counter() - started)
        requests.labels(endpoint, str(response.status_code)).inc()
        if response.status_code >= 400:
            errors.labels(endpoint, "client" if response.status_code < 500 else "server").inc()
        return response

    async def answer(rows_of: Callable[[], pd.DataFrame],
                     shape: Callable[[pd.DataFrame, list[str]], dict[str, Any]]) -> Response:
        if not state["ready"]:
            return _error(503, f"not ready: {state['reason']}")
        try:
            rows = rows_of()
            if len(rows) > limits.max_rows:
                raise TooLarge(f"{len(rows)} rows; the limit is {limits.max_rows} a request")
            features, warnings = check_rows(
                bundle, apply_reading(rows, bundle.metadata.reading), strict=strict)
            predictions, _ = await batcher.predict(features)
        except TooLarge as error:
            return _error(413, str(error))
        except PayloadError as error:
            return _error(400, str(error))
        except SchemaError as error:
            return _error(422, str(error))
        except (ValueError, TypeError) as error:  # the model refused values it cannot score
            return _error(422, f"the model cannot score these rows: {first_line(error)}")
        rows_predicted.inc(len(predictions))
        return JSONResponse(shape(predictions, warnings))

    @app.post("/invocations", openapi_extra=INVOCATIONS_BODY, responses=ERROR_RESPONSES,
              summary="MLflow scoring protocol: dataframe_split, dataframe_records, instances, "
                      "inputs or CSV")
    async def invocations(request: Request) -> Response:
        body = await _body(request, limits.max_body_bytes)
        if body is None:
            return _error(413, f"the body is larger than {limits.max_body_bytes} bytes")
        content_type = request.headers.get("content-type", "application/json")
        return await answer(lambda: rows_from_body(body, content_type, columns,
                                                   na_values=bundle.metadata.reading.na_values),
                            lambda frame, warnings: {"predictions": _native(frame["prediction"]),
                                                     "warnings": warnings})

    async def predict(payload: Any) -> Response:
        records = [record.model_dump(by_alias=True) for record in payload.records]
        return await answer(lambda: rows_from_records(records),
                            lambda frame, warnings: {
                                "predictions": _native(frame["prediction"]),
                                "probabilities": _probabilities(frame, classes),
                                "warnings": warnings})

    # The body's model is built from the bundle's schema at run time, so it is set here
    # rather than written as an annotation.
    predict.__annotations__["payload"] = request_model
    app.post("/predict", response_model=PredictResponse, responses=ERROR_RESPONSES,
             summary="Records in; predictions and class probabilities out")(predict)

    @app.get("/health", summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: the model answered a warm-up prediction")
    async def ready() -> Response:
        body = {"ready": state["ready"], "reason": state["reason"]}
        return JSONResponse(body, status_code=200 if state["ready"] else 503)

    @app.get("/metadata", summary="Input schema, model, metrics and lineage")
    async def metadata() -> dict[str, Any]:
        keys = {"task", "target", "classes", "model", "primary", "metrics", "seed",
                "data_fingerprint", "packages", "git"}
        return {"schema": bundle.schema, **bundle.metadata.model_dump(mode="json", include=keys),
                "lineage": {"bundle": str(bundle.directory), **(lineage or {})},
                "limits": limits.model_dump()}

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


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
        got = "" if isinstance(given, dict | list) else f" (got {given!r})"
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


async def _body(request: Request, limit: int) -> bytes | None:
    """The body, read in chunks; None once it passes ``limit`` bytes (a chunked upload has no
    Content-Length to refuse it by)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
