"""RFC 9457 problem+json for every error a client can see, installed once on the app."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException

from orders_api.security import RateLimited, Unauthorized, rate_limit_headers
from orders_shared.errors import EngineError, IdempotencyConflict, InvalidOrder, OrderNotFound, Unavailable
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics

PROBLEM_JSON = "application/problem+json"
# What a client is told to wait before retrying while Postgres is away.
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


def install_problem_handlers(app: FastAPI, metrics: Metrics) -> None:
    """Map the engine's errors and FastAPI's validation errors to problem+json."""

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"field": _field(e), "message": _message(e)} for e in exc.errors()]
        metrics.orders_rejected.labels(reason="validation").inc()
        status = 400 if any(e["type"] == "json_invalid" for e in exc.errors()) else 422
        detail = "; ".join(f"{e['field']} {e['message']}" for e in errors)
        return problem(status, "Invalid request", detail, instance=request.url.path, errors=errors)

    async def invalid_order(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InvalidOrder)
        metrics.orders_rejected.labels(reason="invalid_order").inc()
        return problem(
            422,
            "Invalid request",
            f"{exc.field} {exc.message}",
            instance=request.url.path,
            errors=[{"field": exc.field, "message": exc.message}],
        )

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return problem(404, "Order not found", "no such order", instance=request.url.path)

    async def unauthorized(request: Request, exc: Exception) -> JSONResponse:
        metrics.orders_rejected.labels(reason="unauthorized").inc()
        return problem(
            401,
            "Unauthorized",
            str(exc),
            instance=request.url.path,
            headers={"WWW-Authenticate": 'Bearer realm="orders"'},
        )

    async def rate_limited(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RateLimited)
        metrics.orders_rejected.labels(reason="rate_limited").inc()
        headers = {
            "Retry-After": str(math.ceil(exc.retry_after_s)),
            **rate_limit_headers(exc.limit, 0, exc.retry_after_s),
        }
        return problem(429, "Too many requests", str(exc), instance=request.url.path, headers=headers)

    async def conflict(request: Request, exc: Exception) -> JSONResponse:
        metrics.orders_rejected.labels(reason="idempotency_conflict").inc()
        return problem(
            409,
            "Idempotency conflict",
            str(exc),
            instance=request.url.path,
            errors=[{"field": "Idempotency-Key", "message": str(exc)}],
        )

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency_unavailable", error=type(exc).__name__, path=request.url.path)
        metrics.internal_errors.labels(where="api_unavailable").inc()
        return problem(
            503,
            "Service unavailable",
            "the order store is unreachable; try again shortly",
            instance=request.url.path,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    async def engine_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("engine_error", error=str(exc), code=getattr(exc, "code", None), path=request.url.path)
        metrics.internal_errors.labels(where="api").inc()
        return problem(
            500, "Internal error", "the engine failed; the error is logged", instance=request.url.path
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        title = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}.get(
            exc.status_code, "Request refused"
        )
        return problem(
            exc.status_code, title, str(exc.detail), instance=request.url.path, headers=exc.headers
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", path=request.url.path, exc_info=exc)
        metrics.internal_errors.labels(where="api").inc()
        return problem(
            500, "Internal error", "the engine failed; the error is logged", instance=request.url.path
        )

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(InvalidOrder, invalid_order)
    app.add_exception_handler(OrderNotFound, not_found)
    app.add_exception_handler(Unauthorized, unauthorized)
    app.add_exception_handler(RateLimited, rate_limited)
    app.add_exception_handler(IdempotencyConflict, conflict)
    for unreachable in (Unavailable, DBAPIError, SATimeoutError, OSError):
        app.add_exception_handler(unreachable, unavailable)
    app.add_exception_handler(EngineError, engine_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
