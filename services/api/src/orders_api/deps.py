"""Typed dependencies of the route handlers, resolved from the lifespan's state.

Dependencies are coroutines: FastAPI runs a plain `def` dependency in a thread pool, a hop per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

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


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer oek_…`")
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key, for clients without Bearer"
)


async def get_order_service(request: Request) -> OrderService:
    """The process's OrderService."""
    service: OrderService = request.state.orders
    return service


async def get_guard(request: Request) -> Guard:
    """The process's security state."""
    guard: Guard = request.state.guard
    return guard


async def get_client(
    guard: Annotated[Guard, Depends(get_guard)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> str:
    """The client the key belongs to; without AUTH_REQUIRED and without a key, the anonymous client."""
    key = credentials.credentials if credentials is not None else api_key
    if not key:
        if guard.auth_required:
            raise Unauthorized("an API key is required: Authorization: Bearer <key>")
        return ANONYMOUS
    client = await guard.keys.client_for(key)
    if client is None:
        raise Unauthorized("the API key is not valid")
    return client


async def submitting_client(
    guard: Annotated[Guard, Depends(get_guard)],
    client: Annotated[str, Depends(get_client)],
    response: Response,
) -> str:
    """The caller, charged one order submission."""
    remaining, reset = guard.orders.take(client)
    response.headers.update(rate_limit_headers(guard.orders.burst, remaining, reset))
    return client


async def reading_client(
    guard: Annotated[Guard, Depends(get_guard)],
    client: Annotated[str, Depends(get_client)],
    response: Response,
) -> str:
    """The caller, charged one read."""
    remaining, reset = guard.reads.take(client)
    response.headers.update(rate_limit_headers(guard.reads.burst, remaining, reset))
    return client


OrderServiceDep = Annotated[OrderService, Depends(get_order_service)]
GuardDep = Annotated[Guard, Depends(get_guard)]
SubmitterDep = Annotated[str, Depends(submitting_client)]
ReaderDep = Annotated[str, Depends(reading_client)]
