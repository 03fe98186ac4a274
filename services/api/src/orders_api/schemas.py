"""Request and response bodies of the REST api (camelCase JSON, amounts as strings)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StrictInt, StrictStr
from pydantic.alias_generators import to_camel

from orders_shared.contracts import OrderEvent, RouteLeg, VenueQuote


def _to_decimal(value: Any) -> Decimal:
    # JSON numbers arrive as int or float; str(float) is the shortest form that reads back the same,
    # so 0.1 becomes Decimal("0.1") and not the binary fraction behind it.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a number or a numeric string")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a number or a numeric string") from None
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    return amount


DecimalInput = Annotated[Decimal, BeforeValidator(_to_decimal)]
# A price as digits, never in exponent form: str() writes 1.33E-7 for a BONK price in SOL.
DecimalDigits = Annotated[
    Decimal, PlainSerializer(lambda v: format(v, "f"), return_type=str, when_used="json")
]


class CamelModel(BaseModel):
    """camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class OrderRequest(CamelModel):
    """`POST /api/orders/execute`, as the seed took it; fields we do not know are kept to be named back."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        json_schema_extra={
            "examples": [{"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1.5", "type": "market"}]
        },
    )

    token_in: StrictStr = Field(
        description="Token sold: symbol (SOL, USDC, USDT) or mint address.", max_length=64
    )
    token_out: StrictStr = Field(description="Token bought: symbol or mint address.", max_length=64)
    amount_in: DecimalInput = Field(description="Amount of tokenIn to sell, as a number or a string.")
    type: Literal["market", "limit", "sniper"] = Field(
        default="market",
        description=(
            "market: now; limit: once the best route pays limitPrice; sniper: when a pool for the pair opens "
            "(a token's launch)."
        ),
    )
    slippage_bps: StrictInt | None = Field(
        default=None, ge=0, le=10_000, description="Worst accepted output below the quote, in basis points."
    )
    limit_price: DecimalInput | None = Field(
        default=None,
        description="Limit orders only: the worst average price, tokenOut per tokenIn, fees included.",
    )
    expires_at: datetime | None = Field(
        default=None, description="Limit and sniper orders: RFC 3339, at most 30 days ahead; default 24 h."
    )
    max_price: DecimalInput | None = Field(
        default=None,
        description="Sniper orders only: the worst average price paid, tokenIn per tokenOut, fees included.",
    )

    def ignored_fields(self) -> list[str]:
        """Fields the client sent that we do not know (the seed ignored them silently)."""
        return sorted(self.model_extra or {})


class Accepted(CamelModel):
    """The answer to an accepted order."""

    order_id: uuid.UUID
    ignored_fields: list[str] = Field(default_factory=list)


class OrderType(StrEnum):
    """What an order waits for: nothing (market), a price (limit), a token's launch (sniper)."""

    MARKET = "market"
    LIMIT = "limit"
    SNIPER = "sniper"


class OrderView(CamelModel):
    """An order as clients read it."""

    order_id: uuid.UUID
    status: str
    type: str
    token_in: str
    token_out: str
    amount_in: Decimal
    slippage_bps: int
    attempt: int
    dex_chosen: str | None = None
    route: list[RouteLeg] | None = None
    tx_hash: str | None = None
    amount_out: Decimal | None = None
    executed_price: Decimal | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    limit_price: Decimal | None = None
    max_price: Decimal | None = None
    expires_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class EventView(OrderEvent):
    """One step of an order's history as the api shows it: the event clients stream, without the message's
    version; only the fields of its status are present."""

    v: Literal[1] = Field(default=1, exclude=True)


class OrderDetail(OrderView):
    """An order with its whole history; an `open` one also says what it waits for."""

    current_price: DecimalDigits | None = Field(
        default=None,
        description=(
            "Open orders only: the best route's average price now for the order's whole amount, tokenOut "
            "per tokenIn, fees included (null when no route can fill it)."
        ),
    )
    waiting_reason: str | None = Field(
        default=None, description="Open orders only: why it has not fired yet, in a sentence."
    )
    events: list[EventView]


class OrderPage(CamelModel):
    """One page of the order list, newest first."""

    orders: list[OrderView]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page.")


class QuoteView(CamelModel):
    """`GET /api/quote`: every venue's quote for the whole amount and the route an order would take."""

    token_in: str
    token_out: str
    amount_in: Decimal
    slippage_bps: int
    quotes: list[VenueQuote]
    dex_chosen: str = Field(description="raydium, meteora, or split")
    route: list[RouteLeg]
    expected_amount_out: Decimal
    min_amount_out: Decimal = Field(description="expectedAmountOut less slippageBps")


class WsTicket(CamelModel):
    """A WebSocket ticket: `ws://…/api/orders/ws?orderId=…&ticket=<ticket>`."""

    ticket: str
    expires_in: int = Field(description="Seconds the ticket stays valid.")


class PricePointView(CamelModel):
    """Both venues' spot prices at one second."""

    t: int = Field(description="Unix time, in seconds.")
    raydium: DecimalDigits | None = Field(description="Raydium's spot price, quote per base.")
    meteora: DecimalDigits | None = Field(
        description="Meteora's spot price (its active bin), quote per base."
    )


class PriceHistoryView(CamelModel):
    """`GET /api/market/{pair}/prices`: both venues' spot prices once a second, oldest first."""

    pair: str = Field(description="BASE/QUOTE, e.g. SOL/USDC.")
    base: str
    quote: str
    points: list[PricePointView]
