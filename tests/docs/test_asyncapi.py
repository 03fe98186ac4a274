"""docs/asyncapi.yaml is what `python -m docs.asyncapi` generates from the models, and says what is sent."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from docs import asyncapi
from orders_notifier import protocol
from orders_shared.contracts import ExecuteOrder, OrderEvent, RouteLeg, TokenLaunched, VenueQuote
from orders_shared.status import TERMINAL, Status
from tests.support.services import Stack
from tests.support.streams import follow

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
REGENERATE = "regenerate it: .venv/bin/python -m docs.asyncapi > docs/asyncapi.yaml"


def test_the_committed_document_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == asyncapi.render(), (
        f"docs/asyncapi.yaml drifted from the models; {REGENERATE}"
    )


def test_the_yaml_reads_back_as_the_document() -> None:
    yaml = pytest.importorskip("yaml")
    assert yaml.safe_load(COMMITTED.read_text()) == json.loads(json.dumps(asyncapi.document()))


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_reference_resolves() -> None:
    document = asyncapi.document()
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    assert len(refs) > 20
    for ref in refs:
        assert _resolve(document, ref) is not None, ref


def _fits(frame: dict[str, Any], schema: dict[str, Any]) -> None:
    """Every key of a real frame is declared, and every required one is there."""
    assert set(frame) <= set(schema["properties"]), set(frame) - set(schema["properties"])
    assert set(schema.get("required", [])) <= set(frame)


def test_real_frames_and_messages_fit_their_schemas() -> None:
    schemas = asyncapi.schemas()
    order_id = uuid.uuid4()
    _fits(protocol.connected(order_id), schemas["Connected"])
    _fits(protocol.connected(None), schemas["Connected"])
    _fits(protocol.error("unknown order", str(order_id)), schemas["StreamError"])
    event = OrderEvent(
        order_id=order_id,
        seq=3,
        status=Status.BUILDING,
        at=datetime.now(UTC),
        attempt=1,
        quotes=[
            VenueQuote(
                venue="raydium",
                amount_in=Decimal(1),
                amount_out=Decimal(150),
                fee_amount=Decimal(0),
                price_impact_pct=Decimal(0),
            )
        ],
        dex_chosen="raydium",
        route=[
            RouteLeg(venue="raydium", percent=100, amount_in=Decimal(1), expected_amount_out=Decimal(150))
        ],
        min_amount_out=Decimal(149),
        instructions=["swap(raydium)"],
    )
    _fits(event.frame(), schemas["OrderEventFrame"])
    _fits(json.loads(event.to_json()), schemas["OrderEvent"])
    _fits(json.loads(ExecuteOrder(order_id=order_id, attempt=1).to_json()), schemas["ExecuteOrder"])
    launched = TokenLaunched(
        symbol="PUMP",
        mint="PUMPxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        decimals=6,
        quote="SOL",
        price=Decimal("0.0001"),
        liquidity=Decimal(500),
        opens_at=datetime.now(UTC),
    )
    _fits(json.loads(launched.to_json()), schemas["TokenLaunched"])
    subscribe = {"action": "subscribe", "orderIds": [str(order_id)], "afterSeq": 2}
    protocol.parse_client_message(json.dumps(subscribe))
    _fits(subscribe, schemas["Subscribe"])


def test_the_stream_is_documented_to_close_after_every_end_and_not_after_open() -> None:
    channel = asyncapi.document()["channels"]["orderStream"]["description"]
    ends = [s.value for s in Status if s in TERMINAL]
    assert ends == ["confirmed", "failed", "cancelled", "expired"]
    assert f"close {protocol.NORMAL} after `confirmed`, `failed`, `cancelled` or `expired`" in channel
    assert "`open` is no end" in channel


def test_the_status_schema_is_the_table_and_says_what_each_status_means() -> None:
    status = asyncapi.schemas()["Status"]
    assert status["enum"] == [s.value for s in Status]
    for name in Status:
        assert f"`{name.value}`: " in status["description"], name


def test_the_back_to_open_fields_are_described_on_the_event_and_the_frame() -> None:
    schemas = asyncapi.schemas()
    for schema in ("OrderEvent", "OrderEventFrame"):
        fields = schemas[schema]["properties"]
        assert fields["missedPrice"]["type"] == "string"
        assert fields["limitPrice"]["type"] == "string"
        assert "`open` after `submitted`" in fields["missedPrice"]["description"]


def test_every_example_frame_fits_the_frame_schema() -> None:
    schemas = asyncapi.schemas()
    examples = asyncapi.document()["components"]["messages"]["OrderEventFrame"]["examples"]
    assert {e["payload"]["status"] for e in examples} >= {"building", "open", "cancelled"}
    for example in examples:
        _fits(example["payload"], schemas["OrderEventFrame"])
        assert example["payload"]["status"] in schemas["Status"]["enum"]
    missed = next(e["payload"] for e in examples if e["payload"]["status"] == "open")
    # The event a worker writes for a missed price (fields the model does not know yet are dropped).
    event = OrderEvent.model_validate(missed)
    _fits(event.frame(), schemas["OrderEventFrame"])


@pytest.mark.e2e
async def test_a_cancelled_and_an_expired_order_stream_as_documented_then_close_1000(open_api: Stack) -> None:
    schemas = asyncapi.schemas()
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    async with httpx.AsyncClient(base_url=open_api.api) as client:
        ids = []
        for expires_at in (None, soon):
            body = {
                "tokenIn": "SOL",
                "tokenOut": "USDC",
                "amountIn": "0.5",
                "type": "limit",
                "limitPrice": "1000000",
            }
            response = await client.post("/api/orders/execute", json={**body, "expiresAt": expires_at})
            assert response.status_code == 202, response.text
            ids.append(response.json()["orderId"])
        assert (await client.delete(f"/api/orders/{ids[0]}")).status_code == 200
        streams = [await follow(open_api.ws, order_id, within=15) for order_id in ids]
    for (frames, code), end in zip(streams, ("cancelled", "expired"), strict=True):
        assert code == protocol.NORMAL
        assert [f["status"] for f in frames] == ["ws_connected", "pending", "open", end]
        _fits(frames[0], schemas["Connected"])
        for frame in frames[1:]:
            _fits(frame, schemas["OrderEventFrame"])
