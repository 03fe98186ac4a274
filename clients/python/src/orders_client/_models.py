"""What the engine answers, as typed, immutable values: amounts are Decimal, times are aware datetimes.

Every value keeps the JSON it came from in ``raw``, so a field the engine adds later is not lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

# Where an order ends: filled, failed, cancelled by its client, or past its expiresAt. `open` (a limit or
# sniper order waiting for its trigger) is not an end, and a fired limit order that missed its price at
# landing goes from `submitted` back to `open`.
TERMINAL = frozenset({"confirmed", "failed", "cancelled", "expired"})
# The steps of a market order, and of an order that waits for a trigger first (limit, sniper).
LIFECYCLE = ("pending", "routing", "building", "submitted", "confirmed")
WAITING_LIFECYCLE = ("pending", "open", "routing", "building", "submitted", "confirmed")
STATUSES = (*WAITING_LIFECYCLE, "failed", "cancelled", "expired")
ORDER_TYPES = ("market", "limit", "sniper")

Json = Mapping[str, Any]


def _dec(data: Json, key: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else Decimal(str(value))


def _req_dec(data: Json, key: str) -> Decimal:
    return Decimal(str(data[key]))


def _time(data: Json, key: str) -> datetime:
    return datetime.fromisoformat(str(data[key]).replace("Z", "+00:00"))


def _opt_time(data: Json, key: str) -> datetime | None:
    return None if data.get(key) is None else _time(data, key)


@dataclass(frozen=True, slots=True)
class Accepted:
    """The answer to a submitted order; ``replayed`` when an Idempotency-Key returned an earlier order."""

    order_id: str
    ignored_fields: list[str]
    replayed: bool = False

    @classmethod
    def from_json(cls, data: Json, *, replayed: bool = False) -> Accepted:
        """Parse `{"orderId", "ignoredFields"}`."""
        return cls(str(data["orderId"]), list(data.get("ignoredFields", [])), replayed)


@dataclass(frozen=True, slots=True)
class VenueQuote:
    """One venue's quote for the whole amount."""

    venue: str
    amount_in: Decimal
    amount_out: Decimal
    fee_amount: Decimal
    price_impact_pct: Decimal

    @classmethod
    def from_json(cls, data: Json) -> VenueQuote:
        """Parse a `quotes[]` item."""
        return cls(
            venue=str(data["venue"]),
            amount_in=_req_dec(data, "amountIn"),
            amount_out=_req_dec(data, "amountOut"),
            fee_amount=_req_dec(data, "feeAmount"),
            price_impact_pct=_req_dec(data, "priceImpactPct"),
        )


@dataclass(frozen=True, slots=True)
class RouteLeg:
    """The part of an order sent to one venue."""

    venue: str
    percent: int
    amount_in: Decimal
    expected_amount_out: Decimal

    @classmethod
    def from_json(cls, data: Json) -> RouteLeg:
        """Parse a `route[]` item."""
        return cls(
            venue=str(data["venue"]),
            percent=int(data["percent"]),
            amount_in=_req_dec(data, "amountIn"),
            expected_amount_out=_req_dec(data, "expectedAmountOut"),
        )


def _legs(data: Json) -> list[RouteLeg] | None:
    legs = data.get("route")
    return None if legs is None else [RouteLeg.from_json(leg) for leg in legs]


@dataclass(frozen=True, slots=True)
class QuoteResult:
    """`GET /api/quote`: both venues' quotes and the route an order would take."""

    token_in: str
    token_out: str
    amount_in: Decimal
    slippage_bps: int
    quotes: list[VenueQuote]
    dex_chosen: str
    route: list[RouteLeg]
    expected_amount_out: Decimal
    min_amount_out: Decimal
    raw: Json = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Json) -> QuoteResult:
        """Parse the quote endpoint's answer."""
        return cls(
            token_in=str(data["tokenIn"]),
            token_out=str(data["tokenOut"]),
            amount_in=_req_dec(data, "amountIn"),
            slippage_bps=int(data["slippageBps"]),
            quotes=[VenueQuote.from_json(q) for q in data["quotes"]],
            dex_chosen=str(data["dexChosen"]),
            route=_legs(data) or [],
            expected_amount_out=_req_dec(data, "expectedAmountOut"),
            min_amount_out=_req_dec(data, "minAmountOut"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One step of an order's life; only the fields of its status are set."""

    order_id: str
    seq: int
    status: str
    at: datetime
    attempt: int
    quotes: list[VenueQuote] | None = None
    dex_chosen: str | None = None
    route: list[RouteLeg] | None = None
    min_amount_out: Decimal | None = None
    instructions: list[str] | None = None
    tx_hash: str | None = None
    executed_price: Decimal | None = None
    amount_out: Decimal | None = None
    error_code: str | None = None
    error: str | None = None
    missed_price: Decimal | None = None
    limit_price: Decimal | None = None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def terminal(self) -> bool:
        """Whether the order ends here: `confirmed`, `failed`, `cancelled` or `expired` (not `open`)."""
        return self.status in TERMINAL

    @property
    def missed(self) -> bool:
        """Whether this is a fired limit order going back to `open`: its swap no longer paid its limit."""
        return self.status == "open" and self.missed_price is not None

    @classmethod
    def from_json(cls, data: Json) -> OrderEvent:
        """Parse a WebSocket event frame (or an item of an order's `events`)."""
        quotes = data.get("quotes")
        instructions = data.get("instructions")
        return cls(
            order_id=str(data["orderId"]),
            seq=int(data["seq"]),
            status=str(data["status"]),
            at=_time(data, "at"),
            attempt=int(data.get("attempt", 0)),
            quotes=None if quotes is None else [VenueQuote.from_json(q) for q in quotes],
            dex_chosen=data.get("dexChosen"),
            route=_legs(data),
            min_amount_out=_dec(data, "minAmountOut"),
            instructions=None if instructions is None else [str(i) for i in instructions],
            tx_hash=data.get("txHash"),
            executed_price=_dec(data, "executedPrice"),
            amount_out=_dec(data, "amountOut"),
            error_code=data.get("errorCode"),
            error=data.get("error"),
            missed_price=_dec(data, "missedPrice"),
            limit_price=_dec(data, "limitPrice"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Order:
    """An order as `GET /api/orders/{id}` and the order list return it (``events`` only in the former).

    A limit order has ``limit_price`` (tokenOut per tokenIn) and ``expires_at``; a sniper order
    ``max_price`` (tokenIn per tokenOut, optional) and ``expires_at``. While one waits `open`, the api may
    say what the best route pays now (``current_price``, tokenOut per tokenIn) and why it has not fired
    (``waiting_reason``).
    """

    order_id: str
    status: str
    type: str
    token_in: str
    token_out: str
    amount_in: Decimal
    slippage_bps: int
    attempt: int
    created_at: datetime
    updated_at: datetime
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
    current_price: Decimal | None = None
    waiting_reason: str | None = None
    events: list[OrderEvent] = field(default_factory=list)
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def terminal(self) -> bool:
        """Whether the order has ended."""
        return self.status in TERMINAL

    @classmethod
    def from_json(cls, data: Json) -> Order:
        """Parse an order."""
        return cls(
            order_id=str(data["orderId"]),
            status=str(data["status"]),
            type=str(data.get("type", "market")),
            token_in=str(data["tokenIn"]),
            token_out=str(data["tokenOut"]),
            amount_in=_req_dec(data, "amountIn"),
            slippage_bps=int(data["slippageBps"]),
            attempt=int(data.get("attempt", 0)),
            created_at=_time(data, "createdAt"),
            updated_at=_time(data, "updatedAt"),
            dex_chosen=data.get("dexChosen"),
            route=_legs(data),
            tx_hash=data.get("txHash"),
            amount_out=_dec(data, "amountOut"),
            executed_price=_dec(data, "executedPrice"),
            failure_code=data.get("failureCode"),
            failure_reason=data.get("failureReason"),
            limit_price=_dec(data, "limitPrice"),
            max_price=_dec(data, "maxPrice"),
            expires_at=_opt_time(data, "expiresAt"),
            current_price=_dec(data, "currentPrice"),
            waiting_reason=data.get("waitingReason"),
            events=[OrderEvent.from_json(e) for e in data.get("events", [])],
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of orders, newest first; pass ``next_cursor`` to `list` for the next."""

    orders: list[Order]
    next_cursor: str | None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Json) -> OrderPage:
        """Parse `{"orders": […], "nextCursor"}`."""
        return cls([Order.from_json(o) for o in data["orders"]], data.get("nextCursor"), data)
