"""What a route gets: the process's state (typed), and the one dependency of each read route.

One dependency rather than a chain (key schemes → client → budget → service): FastAPI resolves every node
of the graph on every request, and on the order path that resolution cost more CPU than storing the order.
The order route (intake.py) runs no dependency at all. The API key schemes are declared with FastAPI's own
classes on the routers (`API_KEYS`), so FastAPI documents them; keys are read by `Gate.admit` with
`orders_shared.auth.bearer`, the one parser of the api and the notifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.params import Depends as DependsParam
from fastapi.security import APIKeyHeader, HTTPBearer

from orders_api.access import Gate
from orders_api.service import OrderService

# The key under which the lifespan hands its `AppState` to every request (`request.state.api`).
STATE_KEY = "api"


@dataclass(frozen=True, slots=True)
class AppState:
    """What the lifespan builds once and every request reads: the order service and the gate."""

    orders: OrderService
    gate: Gate


def app_state(state: Mapping[str, Any]) -> AppState:
    """The `AppState` in a request's lifespan state (``scope["state"]``)."""
    found = state[STATE_KEY]
    assert isinstance(found, AppState)
    return found


@dataclass(frozen=True, slots=True)
class Caller:
    """The client behind a request (already charged for it) and the process's state."""

    client: str
    orders: OrderService
    gate: Gate


async def reader(request: Request, response: Response) -> Caller:
    """The caller, charged one read (order submissions are admitted by intake.submit)."""
    api = app_state(request.scope["state"])
    client, limit_headers = await api.gate.admit(request.headers, api.gate.reads)
    response.headers.update(limit_headers)
    return Caller(client, api.orders, api.gate)


ReaderDep = Annotated[Caller, Depends(reader)]

# The API key schemes, for the OpenAPI document: FastAPI documents them on every route of the routers that
# list them. They never refuse a request (auto_error=False): `Gate.admit` decides, on every route alike.
API_KEYS: list[DependsParam] = [
    Security(
        HTTPBearer(
            scheme_name="bearer",
            description="An API key: `Authorization: Bearer oek_…`",
            auto_error=False,
        )
    ),
    Security(
        APIKeyHeader(
            name="X-API-Key",
            scheme_name="apiKey",
            description="An API key, for clients without Bearer",
            auto_error=False,
        )
    ),
]
