"""Typed dependencies of the route handlers, resolved from the lifespan's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from orders_api.service import OrderService


def get_order_service(request: Request) -> OrderService:
    """The process's OrderService, built in the lifespan."""
    service: OrderService = request.state.orders
    return service


def get_client(request: Request) -> str:
    """Who is calling; until API keys exist every caller is the same anonymous client."""
    return "anonymous"


OrderServiceDep = Annotated[OrderService, Depends(get_order_service)]
ClientDep = Annotated[str, Depends(get_client)]
