"""The REST routes: thin handlers over OrderService."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from orders_api.deps import API_KEYS, ReaderDep
from orders_api.intake import IDEMPOTENCY_KEY_MAX, LeanRoute
from orders_api.responses import GUARDED, PROBLEM
from orders_api.schemas import (
    Accepted,
    OrderDetail,
    OrderPage,
    OrderRequest,
    OrderType,
    QuoteView,
    WsTicket,
)
from orders_shared.status import Status

router = APIRouter(prefix="/api/orders", tags=["orders"], responses=GUARDED, dependencies=API_KEYS)


async def execute_order(
    body: OrderRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=IDEMPOTENCY_KEY_MAX,
            description="Send the same key again to get the first order back instead of a second one.",
        ),
    ] = None,
) -> Accepted:
    """Accept the order once it is stored; follow it on `/api/orders/ws?orderId=…`."""
    # The declaration FastAPI documents; LeanRoute serves the route with intake.execute instead.
    raise NotImplementedError("served by orders_api.intake.execute")


router.add_api_route(
    "/execute",
    execute_order,
    methods=["POST"],
    route_class_override=LeanRoute,
    status_code=202,
    response_model=Accepted,
    responses={
        200: {"model": Accepted, "description": "The order this Idempotency-Key already created"},
        400: PROBLEM,
        409: PROBLEM,
        413: PROBLEM,
        422: PROBLEM,
        503: PROBLEM,
    },
    summary="Submit a market or limit order",
)


@router.post(
    "/ws-ticket",
    response_model=WsTicket,
    summary="A short-lived ticket for the WebSocket",
)
async def ws_ticket(caller: ReaderDep) -> WsTicket:
    """Browsers cannot set headers on a WebSocket: put this in its URL as `ticket=…` instead of a key."""
    tickets = caller.gate.tickets
    return WsTicket(ticket=tickets.issue(caller.client), expires_in=tickets.ttl_s)


@router.get("/{order_id}", response_model=OrderDetail, responses={404: PROBLEM}, summary="One order")
async def get_order(order_id: uuid.UUID, caller: ReaderDep) -> OrderDetail:
    """The order with every event so far."""
    return await caller.orders.get(order_id, client=caller.client)


@router.delete(
    "/{order_id}",
    response_model=OrderDetail,
    responses={404: PROBLEM, 409: PROBLEM},
    summary="Cancel a waiting order",
)
async def cancel_order(order_id: uuid.UUID, caller: ReaderDep) -> OrderDetail:
    """Cancel an `open` limit order: 200 with it `cancelled` (again: the same answer); 409 naming its status
    once it has left `open` (fired, expired, or a market order)."""
    return await caller.orders.cancel(order_id, client=caller.client)


@router.get("", response_model=OrderPage, responses={422: PROBLEM}, summary="List orders, newest first")
async def list_orders(
    caller: ReaderDep,
    status: Annotated[Status | None, Query(description="Only orders in this status.")] = None,
    order_type: Annotated[
        OrderType | None, Query(alias="type", description="Only orders of this type.")
    ] = None,
    cursor: Annotated[
        str | None, Query(description="`nextCursor` of the previous page.", max_length=200)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> OrderPage:
    """The caller's orders, newest first, a page at a time; `type` and `status` narrow them."""
    return await caller.orders.list(
        client=caller.client, status=status, cursor=cursor, limit=limit, order_type=order_type
    )


quote_router = APIRouter(prefix="/api", tags=["quotes"], responses=GUARDED, dependencies=API_KEYS)


@quote_router.get(
    "/quote", response_model=QuoteView, responses={422: PROBLEM}, summary="Quote without ordering"
)
async def quote(
    caller: ReaderDep,
    token_in: Annotated[str, Query(alias="tokenIn", max_length=64, description="Symbol or mint sold.")],
    token_out: Annotated[str, Query(alias="tokenOut", max_length=64, description="Symbol or mint bought.")],
    amount_in: Annotated[str, Query(alias="amountIn", max_length=64, description="Amount of tokenIn.")],
    slippage_bps: Annotated[int | None, Query(alias="slippageBps", ge=0, le=10_000)] = None,
) -> QuoteView:
    """Both venues' quotes and the chosen route (split when it pays), as Jupiter's quote API answers."""
    try:
        request = OrderRequest.model_validate(
            {"tokenIn": token_in, "tokenOut": token_out, "amountIn": amount_in, "slippageBps": slippage_bps}
        )
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from None
    return await caller.orders.quote(request)
