"""Python client of the order execution engine: REST over httpx, the order stream over websockets.

async with OrdersClient("http://127.0.0.1:8000", api_key=...) as client:
    accepted = await client.submit("SOL", "USDC", "1.5")
    async for event in client.follow(accepted.order_id):
        print(event.seq, event.status)

    waiting = await client.limit("SOL", "USDC", "1.5", price="152", expires_at=parse_expiry("10m"))
    await client.cancel(waiting.order_id)        # open -> cancelled; ApiError 409 once it has fired
"""

from orders_client._client import DEFAULT_API_URL, OrdersClient, default_ws_url
from orders_client._errors import ApiError, FieldError, OrdersError, StreamError
from orders_client._expiry import parse_expiry
from orders_client._models import (
    LIFECYCLE,
    ORDER_TYPES,
    STATUSES,
    TERMINAL,
    WAITING_LIFECYCLE,
    Accepted,
    Order,
    OrderEvent,
    OrderPage,
    QuoteResult,
    RouteLeg,
    VenueQuote,
)

__all__ = [
    "DEFAULT_API_URL",
    "LIFECYCLE",
    "ORDER_TYPES",
    "STATUSES",
    "TERMINAL",
    "WAITING_LIFECYCLE",
    "Accepted",
    "ApiError",
    "FieldError",
    "Order",
    "OrderEvent",
    "OrderPage",
    "OrdersClient",
    "OrdersError",
    "QuoteResult",
    "RouteLeg",
    "StreamError",
    "VenueQuote",
    "default_ws_url",
    "parse_expiry",
]
