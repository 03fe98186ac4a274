"""Python client of the order execution engine: REST over httpx, the order stream over websockets.

async with OrdersClient("http://127.0.0.1:8000", api_key=...) as client:
    accepted = await client.submit("SOL", "USDC", "1.5")
    async for event in client.follow(accepted.order_id):
        print(event.seq, event.status)
"""

from orders_client._client import DEFAULT_API_URL, OrdersClient, default_ws_url
from orders_client._errors import ApiError, FieldError, OrdersError, StreamError
from orders_client._models import (
    LIFECYCLE,
    TERMINAL,
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
    "TERMINAL",
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
]
