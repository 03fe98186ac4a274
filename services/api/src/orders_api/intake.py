"""`POST /api/orders/execute` served lean: the hot route without FastAPI's per-request machinery.

FastAPI documents the route from the declaration in routes.py, as it does every route. `OrderIntake`, the
api's outermost ASGI layer, serves it ahead of the app's middleware stack; where CORS is on, the app serves
it, through `LeanRoute`, with the same `submit`. On the order path that handler
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
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from orders_api.body_limit import BodyTooLarge
from orders_api.deps import AppState, app_state
from orders_api.schemas import OrderRequest
from orders_api.security_headers import API_HEADERS

IDEMPOTENCY_KEY_MAX = 200
EXECUTE_PATH = "/api/orders/execute"


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


def idempotency_key(headers: Headers) -> str | None:
    """The Idempotency-Key header, checked as routes.py documents it."""
    key = headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
        problem = "string_too_short" if not key else "string_too_long"
        message = f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters"
        error = {"type": problem, "loc": ("header", "idempotency-key"), "msg": message}
        raise RequestValidationError([error])
    return key


async def submit(api: AppState, headers: Headers, body: bytes) -> Response:
    """Admit the caller, check the order, store it (group commit) and answer 202 once it is stored."""
    client, limit_headers = await api.gate.admit(headers, api.gate.orders)
    key = idempotency_key(headers)
    order = parse_order(body, headers.get("content-type"))
    submitted = await api.orders.submit(order, client=client, idempotency_key=key)
    return Response(
        submitted.json(),
        status_code=202 if submitted.created else 200,
        headers=limit_headers,
        media_type="application/json",
    )


async def execute(request: Request) -> Response:
    """The route's handler inside the app (where CORS applies): `submit` on the request."""
    return await submit(app_state(request.scope["state"]), request.headers, await request.body())


class LeanRoute(APIRoute):
    """A route documented from its declared endpoint and served by `execute`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """`execute` in place of FastAPI's generic request handler."""
        return execute


async def _read_body(receive: Receive, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise BodyTooLarge(max_bytes)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class OrderIntake:
    """The api's outermost layer: serves `POST /api/orders/execute` itself, passes the rest to the app.

    Every layer of the app's stack (error and exception middleware, body limit, security headers, routing,
    FastAPI's own wrappers) costs a coroutine and a wrapped `send` per request: on two cores, a fifth of the
    api's CPU per order. This layer does for the one hot route what those do: caps the body, answers
    errors through the app's own exception handlers (the same problem+json), adds the security headers.
    With CORS on, the route is left to the app, where CORSMiddleware sees it.
    """

    def __init__(self, app: Starlette, *, max_body_bytes: int, enabled: bool = True) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: the hot route here, everything else (and the lifespan) in the app."""
        if not (
            self.enabled
            and scope["type"] == "http"
            and scope["path"] == EXECUTE_PATH
            and scope["method"] == "POST"
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            length = headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            body = await _read_body(receive, self.max_body_bytes)
            response = await submit(app_state(scope["state"]), headers, body)
        except ClientDisconnect:
            return
        except Exception as exc:  # noqa: BLE001 - answered by the app's handler for it, as inside the app
            response = await self._problem(Request(scope, receive), exc)
        response.raw_headers.extend(API_HEADERS)
        await response(scope, receive, send)

    async def _problem(self, request: Request, exc: Exception) -> Response:
        handlers = self.app.exception_handlers
        handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
        if handler is None:
            raise exc
        response = await handler(request, exc)
        assert isinstance(response, Response)
        return response
