"""Messages on RabbitMQ, versioned pydantic models; the WebSocket frames are the same OrderEvent."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from orders_shared.status import Status


def _is_none(value: object) -> bool:
    return value is None


def omitted() -> Any:
    """The default of a field that is left out of the wire form while it is None (its schema unchanged)."""
    return Field(default=None, exclude_if=_is_none)


class Contract(BaseModel):
    """Base of every message: camelCase on the wire, immutable, unknown fields ignored for forward compat."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore")

    def to_json(self) -> bytes:
        """The wire form: camelCase, no nulls."""
        return orjson.dumps(self.model_dump(mode="json", by_alias=True, exclude_none=True))


class ExecuteOrder(Contract):
    """Ask a worker to (re)try an order; ``attempt`` is the attempt this message starts."""

    v: Literal[1] = 1
    order_id: uuid.UUID
    attempt: int = Field(ge=1)
    # Set by the sweeper: the order sat at this seq too long, so whoever receives this takes it over
    # (if it is still there: any progress since means its holder is alive).
    seen_seq: int | None = Field(default=None, ge=1)


class ExecuteOrders(Contract):
    """Ask a worker to start the first attempt of several new orders: the api's intake, one per batch.

    One AMQP message per order cost the api and the broker more than storing the order; the worker runs
    each order of the message as its own `ExecuteOrder(attempt=1)`, and acks the message when every one
    of them is done (retries and dead letters go out per order, as `ExecuteOrder`). Sent with the AMQP
    `type` property set to ``MESSAGE_TYPE``, which is how a consumer tells the two apart.
    """

    MESSAGE_TYPE: ClassVar[str] = "execute-orders"

    v: Literal[1] = 1
    order_ids: list[uuid.UUID] = Field(min_length=1)

    def orders(self) -> list[ExecuteOrder]:
        """Each order's first attempt, as if it had come alone."""
        return [ExecuteOrder(order_id=order_id, attempt=1) for order_id in self.order_ids]


class VenueQuote(Contract):
    """One venue's answer for the whole order."""

    venue: str
    amount_in: Decimal
    amount_out: Decimal
    fee_amount: Decimal
    price_impact_pct: Decimal


class RouteLeg(Contract):
    """The part of an order sent to one venue."""

    venue: str
    percent: int = Field(ge=0, le=100)
    amount_in: Decimal
    expected_amount_out: Decimal


class OrderEvent(Contract):
    """One step of an order's life, as stored in `order_events` and sent to subscribers.

    Only the fields of its status are set; the rest stay None and are left out on the wire. The database row
    is `orders_shared.models.OrderEventRow`; the api shows events as its own `EventView`.
    """

    v: Literal[1] = 1
    order_id: uuid.UUID
    seq: int = Field(ge=1)
    status: Status
    at: datetime
    attempt: int = Field(default=0, ge=0)
    quotes: list[VenueQuote] | None = omitted()
    dex_chosen: str | None = omitted()
    route: list[RouteLeg] | None = omitted()
    min_amount_out: Decimal | None = omitted()
    instructions: list[str] | None = omitted()
    tx_hash: str | None = omitted()
    executed_price: Decimal | None = omitted()
    amount_out: Decimal | None = omitted()
    error_code: str | None = omitted()
    error: str | None = omitted()
    # On `open` after a fired limit order missed its price: what its swap would have paid, and its limit.
    missed_price: Decimal | None = omitted()
    limit_price: Decimal | None = omitted()

    def detail(self) -> dict[str, Any]:
        """The status-specific fields, as kept in the `detail` column."""
        data = self.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude={"v", "order_id", "seq", "status", "at"}
        )
        return data

    def frame(self) -> dict[str, Any]:
        """The JSON object a WebSocket client receives (and an order's history lists)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"v"})

    @classmethod
    def from_row(
        cls, order_id: uuid.UUID, seq: int, status: str, at: datetime, detail: dict[str, Any]
    ) -> OrderEvent:
        """Rebuild an event from its `order_events` row."""
        return cls.model_validate({**detail, "orderId": order_id, "seq": seq, "status": status, "at": at})


class TokenLaunched(Contract):
    """A token was launched: its pair's pools open at ``opens_at``. Sent on `market.events`, key
    `market.launch`, after the launch committed; Postgres (`tokens`, `pools`) holds the record."""

    v: Literal[1] = 1
    symbol: str
    mint: str
    decimals: int = Field(ge=0, le=18)
    quote: str
    price: Decimal = Field(gt=0)
    liquidity: Decimal = Field(gt=0)
    opens_at: datetime


__all__ = ["Contract", "ExecuteOrder", "OrderEvent", "RouteLeg", "TokenLaunched", "VenueQuote"]
