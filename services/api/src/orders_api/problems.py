"""RFC 9457 problem+json for every error a client can see, installed once on the app."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from orders_api.access import Unauthorized
from orders_api.rate_limits import RateLimited, rate_limit_headers
from orders_api.repository import UNREACHABLE, UNREACHABLE_DETAIL
from orders_shared.errors import (
    EngineError,
    IdempotencyConflict,
    InvalidOrder,
    NotCancellable,
    OrderNotFound,
    Unavailable,
)
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics

PROBLEM_JSON = "application/problem+json"
# What a client is told to wait before retrying while Postgres (or the api itself) is away.
RETRY_AFTER_S = 2
log = get_logger()


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    instance: str,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": f"https://errors.order-engine.dev/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(error: dict[str, Any]) -> str:
    # ("body", "amountIn") -> "amountIn"; a body that is not a JSON object reports as "body".
    if error["type"] == "json_invalid":
        return "body"
    parts = [str(p) for p in error["loc"] if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def _message(error: dict[str, Any]) -> str:
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "json_invalid":
        return "is not valid JSON"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


Handler = Callable[[Request, Exception], Awaitable[Response]]


def _refusal(
    metrics: Metrics,
    status: int,
    title: str,
    reason: str | None,
    *,
    detail: str | None = None,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Handler:
    """A handler answering ``status`` with the error's text (or ``detail``), counted as rejected."""

    async def handle(request: Request, exc: Exception) -> Response:
        if reason is not None:
            metrics.orders_rejected.labels(reason=reason).inc()
        text = detail or str(exc)
        errors = [{"field": field, "message": text}] if field else None
        return problem(status, title, text, instance=request.url.path, errors=errors, headers=headers)

    return handle


class _Handlers:
    """The handlers that read the error they answer, counting what they answer in ``metrics``."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def validation(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [{"field": _field(e), "message": _message(e)} for e in exc.errors()]
        self.metrics.orders_rejected.labels(reason="validation").inc()
        status = 400 if any(e["type"] == "json_invalid" for e in exc.errors()) else 422
        detail = "; ".join(f"{e['field']} {e['message']}" for e in errors)
        return problem(status, "Invalid request", detail, instance=request.url.path, errors=errors)

    async def invalid_order(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvalidOrder)
        self.metrics.orders_rejected.labels(reason="invalid_order").inc()
        errors = [{"field": exc.field, "message": exc.message}]
        detail = f"{exc.field} {exc.message}"
        return problem(422, "Invalid request", detail, instance=request.url.path, errors=errors)

    async def rate_limited(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RateLimited)
        self.metrics.orders_rejected.labels(reason="rate_limited").inc()
        headers = {
            "Retry-After": str(math.ceil(exc.retry_after_s)),
            **rate_limit_headers(exc.limit, 0, exc.retry_after_s),
        }
        return problem(429, "Too many requests", str(exc), instance=request.url.path, headers=headers)

    async def unavailable(self, request: Request, exc: Exception) -> Response:
        log.warning("dependency_unavailable", error=type(exc).__name__, path=request.url.path)
        self.metrics.internal_errors.labels(where="api_unavailable").inc()
        detail = str(exc) if isinstance(exc, Unavailable) else UNREACHABLE_DETAIL
        headers = {"Retry-After": str(RETRY_AFTER_S)}
        return problem(503, "Service unavailable", detail, instance=request.url.path, headers=headers)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        title = HTTP_TITLES.get(exc.status_code, "Request refused")
        path = request.url.path
        return problem(exc.status_code, title, str(exc.detail), instance=path, headers=exc.headers)

    async def internal(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, EngineError):
            log.error("engine_error", error=str(exc), code=exc.code, path=request.url.path)
        else:
            log.error("unhandled_error", path=request.url.path, exc_info=exc)
        self.metrics.internal_errors.labels(where="api").inc()
        detail = "the engine failed; the error is logged"
        return problem(500, "Internal error", detail, instance=request.url.path)


HTTP_TITLES = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}
# Unavailable, and Postgres away where no code of ours turned that into Unavailable (the read routes).
UNAVAILABLE: tuple[type[Exception], ...] = (Unavailable, *UNREACHABLE)


def install_problem_handlers(app: FastAPI, metrics: Metrics) -> None:
    """Map the engine's errors and FastAPI's validation errors to problem+json (most specific class wins)."""
    handlers = _Handlers(metrics)
    by_class: list[tuple[type[Exception], Handler]] = [
        (RequestValidationError, handlers.validation),
        (InvalidOrder, handlers.invalid_order),
        (OrderNotFound, _refusal(metrics, 404, "Order not found", None, detail="no such order")),
        (
            Unauthorized,
            _refusal(
                metrics,
                401,
                "Unauthorized",
                "unauthorized",
                headers={"WWW-Authenticate": 'Bearer realm="orders"'},
            ),
        ),
        (RateLimited, handlers.rate_limited),
        (
            IdempotencyConflict,
            _refusal(metrics, 409, "Idempotency conflict", "idempotency_conflict", field="Idempotency-Key"),
        ),
        (NotCancellable, _refusal(metrics, 409, "Not cancellable", None, field="status")),
        *[(error, handlers.unavailable) for error in UNAVAILABLE],
        (EngineError, handlers.internal),
        (HTTPException, handlers.http_error),
        (Exception, handlers.internal),
    ]
    for error, handler in by_class:
        app.add_exception_handler(error, handler)
