"""Typed dependencies of the route handlers, resolved from the lifespan's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from orders_api.service import OrderService


# Dependencies are coroutines: FastAPI runs a plain `def` dependency in a thread pool, a hop per request.
async def get_order_service(request: Request) -> OrderService:
    """The process's OrderService, built in the lifespan."""
    service: OrderService = request.state.orders
    return service


async def get_client(request: Request) -> str:
    """Who is calling; until API keys exist every caller is the same anonymous client."""
    return "anonymous"


OrderServiceDep = Annotated[OrderService, Depends(get_order_service)]
ClientDep = Annotated[str, Depends(get_client)]
