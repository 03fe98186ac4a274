"""The event bytes the worker publishes and the notifier sends are the contract's, however serialised."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest

from orders_notifier.hub import frame_text
from orders_shared.contracts import OrderEvent, RouteLeg, VenueQuote
from orders_shared.status import Status
from orders_worker.doorbell import wire

_QUOTE = VenueQuote(
    venue="raydium",
    amount_in=Decimal("1.5"),
    amount_out=Decimal("225.123456789012345678"),
    fee_amount=Decimal("0.00375"),
    price_impact_pct=Decimal("1E-7"),
)

EVENTS = [
    OrderEvent(
        order_id=uuid.uuid4(),
        seq=2,
        status=Status.ROUTING,
        at=datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
        attempt=1,
        quotes=[_QUOTE, _QUOTE.model_copy(update={"venue": "meteora"})],
    ),
    OrderEvent(
        order_id=uuid.uuid4(),
        seq=3,
        status=Status.BUILDING,
        at=datetime(2026, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
        attempt=2,
        dex_chosen="split",
        route=[
            RouteLeg(
                venue="raydium", percent=60, amount_in=Decimal("0.9"), expected_amount_out=Decimal("135")
            ),
            RouteLeg(
                venue="meteora", percent=40, amount_in=Decimal("0.6"), expected_amount_out=Decimal("90.1")
            ),
        ],
        min_amount_out=Decimal("224.0"),
        instructions=["setComputeUnitLimit", "swap(raydium)"],
    ),
    OrderEvent(
        order_id=uuid.uuid4(),
        seq=6,
        status=Status.FAILED,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        error_code="SLIPPAGE_EXCEEDED",
        error="the swap would pay 1 USDC — below the minimum “2”",
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.status.value)
def test_published_bytes_are_the_contracts_json(event: OrderEvent) -> None:
    assert orjson.loads(wire(event)) == orjson.loads(event.to_json())
    assert OrderEvent.model_validate_json(wire(event)) == event


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.status.value)
def test_socket_frame_text_is_the_events_frame(event: OrderEvent) -> None:
    assert orjson.loads(frame_text(event)) == event.frame()
