"""The one dependency of each route: who is calling, charged for this request, with the services it needs.

One dependency rather than a chain (key schemes → client → budget → service): FastAPI resolves every node
of the graph on every request, and on the order path that resolution cost more CPU than storing the order.
The API key schemes are documented in the OpenAPI schema by `document_api_keys`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from starlette.datastructures import Headers

from orders_api.security import TokenBucket, Unauthorized, rate_limit_headers
from orders_api.service import OrderService
from orders_shared.auth import ANONYMOUS, KeyVerifier, Tickets


@dataclass(frozen=True, slots=True)
class Guard:
    """The api's security state, built in the lifespan."""

    keys: KeyVerifier
    tickets: Tickets
    auth_required: bool
    orders: TokenBucket
    reads: TokenBucket


@dataclass(frozen=True, slots=True)
class Caller:
    """The client behind a request (already charged for it) and the process's services."""

    client: str
    orders: OrderService
    guard: Guard


def presented_key(headers: Headers) -> str | None:
    """The API key of a request: `Authorization: Bearer <key>`, else `X-API-Key: <key>`."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return headers.get("x-api-key") or None


async def admit(guard: Guard, headers: Headers, bucket: TokenBucket) -> tuple[str, dict[str, str]]:
    """The client behind ``headers``, charged one token of ``bucket``, and the RateLimit-* headers to send.

    Raises Unauthorized (no key where one is required, or a key that is not valid) or RateLimited.
    """
    key = presented_key(headers)
    if not key:
        if guard.auth_required:
            raise Unauthorized("an API key is required: Authorization: Bearer <key>")
        client = ANONYMOUS
    else:
        found = await guard.keys.client_for(key)
        if found is None:
            raise Unauthorized("the API key is not valid")
        client = found
    remaining, reset = bucket.take(client)
    return client, rate_limit_headers(bucket.burst, remaining, reset)


async def reader(request: Request, response: Response) -> Caller:
    """The caller, charged one read (order submissions are admitted by intake.execute)."""
    guard: Guard = request.state.guard
    client, limit_headers = await admit(guard, request.headers, guard.reads)
    response.headers.update(limit_headers)
    return Caller(client, request.state.orders, guard)


ReaderDep = Annotated[Caller, Depends(reader)]

API_KEY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer oek_…`",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key, for clients without Bearer",
    },
}


def document_api_keys(app: FastAPI, prefix: str = "/api/") -> None:
    """Declare the API key schemes in the OpenAPI schema, on every operation under ``prefix``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {}).setdefault("securitySchemes", {}).update(API_KEY_SCHEMES)
            for path, operations in schema.get("paths", {}).items():
                if path.startswith(prefix):
                    for operation in operations.values():
                        operation["security"] = [{name: []} for name in API_KEY_SCHEMES]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
