"""`POST /api/orders/execute` served lean: the hot route without FastAPI's per-request machinery.

FastAPI documents the route from the declaration in routes.py, as it does every route; `LeanRoute` then
serves it with `execute` below instead of FastAPI's generic handler. On the order path that handler
(solving the dependency graph, parsing the body to Python objects and validating them, validating and
encoding the response model) cost more CPU than storing and publishing the order. Here the same checks are
plain calls: the caller is admitted and charged, the raw body is validated by pydantic-core straight from
its bytes, and the answer is written as bytes. Errors are raised as the other routes raise them, so the
app's problem+json handlers answer them identically. tests/e2e/test_intake.py holds the two to one contract.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from orders_api.deps import Guard, admit
from orders_api.schemas import OrderRequest
from orders_api.service import OrderService

IDEMPOTENCY_KEY_MAX = 200


def _is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def parse_order(body: bytes, content_type: str | None) -> OrderRequest:
    """The order in a request body; what FastAPI would refuse is refused with the same errors."""
    if content_type and not _is_json(content_type):
        raise RequestValidationError(
            [{"type": "model_attributes_type", "loc": ("body",), "msg": "must be a JSON object"}]
        )
    if not body:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        return OrderRequest.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header, checked as routes.py documents it."""
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
        problem = "string_too_short" if not key else "string_too_long"
        message = f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters"
        error = {"type": problem, "loc": ("header", "idempotency-key"), "msg": message}
        raise RequestValidationError([error])
    return key


async def execute(request: Request) -> Response:
    """Admit the caller, check the order, store it (group commit) and answer 202 once it is stored."""
    guard: Guard = request.state.guard
    client, headers = await admit(guard, request.headers, guard.orders)
    key = idempotency_key(request)
    order = parse_order(await request.body(), request.headers.get("content-type"))
    orders: OrderService = request.state.orders
    submitted = await orders.submit(order, client=client, idempotency_key=key)
    return Response(
        submitted.json(),
        status_code=202 if submitted.created else 200,
        headers=headers,
        media_type="application/json",
    )


class LeanRoute(APIRoute):
    """A route documented from its declared endpoint and served by `execute`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """`execute` in place of FastAPI's generic request handler."""
        return execute
