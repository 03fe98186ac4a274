"""Message contracts and request parsing: camelCase, versioned, money as Decimal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
from pydantic import ValidationError

from orders_api.schemas import OrderRequest
from orders_shared.contracts import ExecuteOrder, OrderEvent, VenueQuote
from orders_shared.status import Status


def test_execute_order_round_trips_with_version() -> None:
    message = ExecuteOrder(order_id=uuid.uuid4(), attempt=2)
    wire = orjson.loads(message.to_json())
    assert wire == {"v": 1, "orderId": str(message.order_id), "attempt": 2}
    assert ExecuteOrder.model_validate_json(message.to_json()) == message


def test_execute_order_rejects_attempt_zero() -> None:
    with pytest.raises(ValidationError):
        ExecuteOrder(order_id=uuid.uuid4(), attempt=0)


def test_event_frame_is_camel_case_without_nulls_or_version() -> None:
    event = OrderEvent(
        order_id=uuid.uuid4(),
        seq=5,
        status=Status.CONFIRMED,
        at=datetime(2026, 1, 1, tzinfo=UTC),
        attempt=1,
        tx_hash="sig",
        executed_price=Decimal("150.25"),
        amount_out=Decimal("225.375"),
    )
    frame = event.frame()
    assert frame == {
        "orderId": str(event.order_id),
        "seq": 5,
        "status": "confirmed",
        "at": "2026-01-01T00:00:00Z",
        "attempt": 1,
        "txHash": "sig",
        "executedPrice": "150.25",
        "amountOut": "225.375",
    }


def test_event_survives_its_row() -> None:
    quote = VenueQuote(
        venue="raydium",
        amount_in=Decimal("1"),
        amount_out=Decimal("150.1"),
        fee_amount=Decimal("0.3"),
        price_impact_pct=Decimal("0.01"),
    )
    event = OrderEvent(
        order_id=uuid.uuid4(), seq=2, status=Status.ROUTING, at=datetime.now(UTC), attempt=1, quotes=[quote]
    )
    again = OrderEvent.from_row(event.order_id, event.seq, event.status.value, event.at, event.detail())
    assert again == event


def test_unknown_fields_of_a_newer_producer_are_ignored() -> None:
    body = orjson.dumps({"v": 1, "orderId": str(uuid.uuid4()), "attempt": 1, "priority": "high"})
    assert ExecuteOrder.model_validate_json(body).attempt == 1


@pytest.mark.parametrize(
    ("raw", "expected"), [(0.1, "0.1"), ("0.1", "0.1"), (1.5, "1.5"), (" 2 ", "2"), (3, "3")]
)
def test_amount_in_becomes_the_decimal_the_client_wrote(raw: object, expected: str) -> None:
    request = OrderRequest.model_validate({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": raw})
    assert request.amount_in == Decimal(expected)
    assert str(request.amount_in) == expected


def test_type_defaults_to_market_and_unknown_fields_are_named() -> None:
    request = OrderRequest.model_validate(
        {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "slipageBps": 10, "note": "x"}
    )
    assert request.type == "market"
    assert request.ignored_fields() == ["note", "slipageBps"]
