"""docs/asyncapi.yaml is what `python -m docs.asyncapi` generates from the models, and says what is sent."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from docs import asyncapi
from orders_notifier import protocol
from orders_shared.contracts import ExecuteOrder, OrderEvent, RouteLeg, VenueQuote
from orders_shared.status import Status

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
    subscribe = {"action": "subscribe", "orderIds": [str(order_id)], "afterSeq": 2}
    protocol.parse_client_message(json.dumps(subscribe))
    _fits(subscribe, schemas["Subscribe"])
