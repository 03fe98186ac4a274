"""The Python client against the real services: every call, errors, idempotency, reconnecting follow."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers

from orders_client import LIFECYCLE, ApiError, OrderEvent, OrdersClient, StreamError
from tests.client.open_stack import new_api_key
from tests.support.services import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(loop_scope="session")
async def client(open_api: Stack) -> AsyncIterator[OrdersClient]:
    async with OrdersClient(open_api.api, open_api.ws) as client:
        yield client


async def _follow_all(client: OrdersClient, order_id: str) -> list[OrderEvent]:
    async with asyncio.timeout(30):
        return await client.wait(order_id)


async def test_submit_follow_get_see_one_order_through_its_whole_life(client: OrdersClient) -> None:
    accepted = await client.submit("SOL", "USDC", Decimal("1.5"), slippage_bps=100)
    assert not accepted.replayed
    assert accepted.ignored_fields == []

    events = await _follow_all(client, accepted.order_id)

    assert [e.status for e in events] == list(LIFECYCLE)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    routing, building, confirmed = events[1], events[2], events[-1]
    assert routing.quotes is not None
    assert {q.venue for q in routing.quotes} == {"raydium", "meteora"}
    assert building.dex_chosen in {"raydium", "meteora", "split"}
    assert building.route is not None
    assert sum(leg.percent for leg in building.route) == 100
    assert isinstance(confirmed.amount_out, Decimal)
    assert confirmed.amount_out > 0

    order = await client.get(accepted.order_id)
    assert order.status == "confirmed"
    assert order.terminal
    assert order.amount_in == Decimal("1.5")
    assert order.slippage_bps == 100
    assert order.amount_out == confirmed.amount_out
    assert order.tx_hash == confirmed.tx_hash
    assert order.dex_chosen == building.dex_chosen
    assert [(e.seq, e.status) for e in order.events] == [(e.seq, e.status) for e in events]

    # Resuming: after seq 3 come 4 and 5; after the last one, nothing, and the iteration ends.
    assert [e.seq for e in await client.wait(accepted.order_id, after_seq=3)] == [4, 5]
    async with asyncio.timeout(5):
        assert await client.wait(accepted.order_id, after_seq=5) == []


async def test_list_pages_newest_first_and_filters_by_status(client: OrdersClient) -> None:
    ids = []
    for amount in ("0.1", "0.2", "0.3"):
        ids.append((await client.submit("USDC", "USDT", amount)).order_id)
    await asyncio.gather(*(_follow_all(client, order_id) for order_id in ids))

    newest = [o.order_id for o in (await client.list(limit=50)).orders]
    assert [i for i in newest if i in ids] == ids[::-1]

    first = await client.list(limit=2)
    assert len(first.orders) == 2
    assert first.next_cursor is not None
    second = await client.list(limit=2, cursor=first.next_cursor)
    both = [o.order_id for o in first.orders + second.orders]
    assert both == [o.order_id for o in (await client.list(limit=4)).orders]

    confirmed = await client.list(status="confirmed", limit=10)
    assert confirmed.orders
    assert {o.status for o in confirmed.orders} == {"confirmed"}


async def test_quote_has_both_venues_and_the_route(client: OrdersClient) -> None:
    quote = await client.quote("SOL", "USDC", "1.5", slippage_bps=50)
    assert {q.venue for q in quote.quotes} == {"raydium", "meteora"}
    assert quote.dex_chosen in {"raydium", "meteora", "split"}
    assert sum(leg.percent for leg in quote.route) == 100
    assert quote.min_amount_out <= quote.expected_amount_out
    assert quote.expected_amount_out >= max(q.amount_out for q in quote.quotes)


async def test_bad_input_raises_api_error_naming_the_field(client: OrdersClient) -> None:
    with pytest.raises(ApiError) as refused:
        await client.submit("SOL", "USDC", "0")
    assert refused.value.status in (400, 422)
    assert [e.field for e in refused.value.errors] == ["amountIn"]
    assert refused.value.problem["status"] == refused.value.status

    with pytest.raises(ApiError) as unknown:
        await client.quote("SOL", "NOPE", "1")
    assert unknown.value.status in (400, 422)

    with pytest.raises(ApiError) as missing:
        await client.get(str(uuid.uuid4()))
    assert missing.value.status == 404


async def test_idempotency_key_returns_the_first_order_and_refuses_another_body(
    client: OrdersClient,
) -> None:
    key = f"client-test-{uuid.uuid4()}"
    first = await client.submit("SOL", "USDT", "0.25", idempotency_key=key)
    again = await client.submit("SOL", "USDT", "0.25", idempotency_key=key)
    assert again.order_id == first.order_id
    assert (first.replayed, again.replayed) == (False, True)
    with pytest.raises(ApiError) as conflict:
        await client.submit("SOL", "USDT", "0.5", idempotency_key=key)
    assert conflict.value.status == 409
    await _follow_all(client, first.order_id)


async def test_follow_of_an_unknown_order_raises_stream_error(client: OrdersClient) -> None:
    with pytest.raises(StreamError):
        await _follow_all(client, str(uuid.uuid4()))


class DroppingRelay:
    """A WebSocket relay to the notifier that drops its first connection after ``cut_after`` events."""

    def __init__(self, upstream: str, cut_after: int) -> None:
        self.upstream = upstream
        self.cut_after = cut_after
        self.paths: list[str] = []
        self.headers: list[Headers] = []

    async def handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request else "/"
        self.paths.append(path)
        self.headers.append(ws.request.headers if ws.request else Headers())
        first = len(self.paths) == 1
        async with connect(self.upstream + path) as notifier:
            events = 0
            async for raw in notifier:
                await ws.send(raw)
                events += "seq" in json.loads(raw)
                if first and events == self.cut_after:
                    ws.transport.abort()  # the connection dies: no close frame, as when a notifier is killed
                    return
        await ws.close()


@pytest_asyncio.fixture(loop_scope="session")
async def relay(open_api: Stack) -> AsyncIterator[tuple[DroppingRelay, str]]:
    relay = DroppingRelay(open_api.ws, cut_after=2)
    async with serve(relay.handle, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield relay, f"ws://127.0.0.1:{port}"


async def test_follow_reconnects_with_after_seq_and_yields_each_event_once(
    open_api: Stack, relay: tuple[DroppingRelay, str]
) -> None:
    dropper, url = relay
    async with OrdersClient(open_api.api, url, api_key="") as client:
        accepted = await client.submit("SOL", "USDC", "0.5")
        events = await _follow_all(client, accepted.order_id)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [e.status for e in events] == list(LIFECYCLE)
    assert len(dropper.paths) == 2
    assert "afterSeq" not in dropper.paths[0]
    assert dropper.paths[1].endswith("&afterSeq=2")


async def test_api_key_travels_as_bearer_on_rest_and_on_the_websocket(
    monkeypatch: pytest.MonkeyPatch, relay: tuple[DroppingRelay, str]
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"orderId": "x", "ignoredFields": []})

    monkeypatch.setenv("ORDERS_API_KEY", "oek_from_env")
    async with OrdersClient("http://api.invalid", transport=httpx.MockTransport(answer)) as client:
        await client.submit("SOL", "USDC", 1)
    assert seen[0].headers["authorization"] == "Bearer oek_from_env"

    dropper, url = relay
    async with OrdersClient("http://api.invalid", url, api_key="oek_given") as client:
        with pytest.raises(StreamError):  # the relay forwards no key: the notifier knows no such order
            await _follow_all(client, str(uuid.uuid4()))
    assert dropper.headers[-1]["authorization"] == "Bearer oek_given"


async def test_with_a_real_api_key_rest_and_websocket_act_as_its_client(open_api: Stack) -> None:
    key = await new_api_key(open_api, "client test")
    async with OrdersClient(open_api.api, open_api.ws, api_key=key) as keyed:
        accepted = await keyed.submit("USDC", "SOL", "25")
        events = await _follow_all(keyed, accepted.order_id)
        assert events[-1].status == "confirmed"
        assert accepted.order_id in [o.order_id for o in (await keyed.list()).orders]

    async with OrdersClient(open_api.api, open_api.ws, api_key="oek_0000_not-a-key") as wrong:
        with pytest.raises(ApiError) as refused:
            await wrong.quote("SOL", "USDC", "1")
        assert refused.value.status == 401
        with pytest.raises(StreamError):
            await _follow_all(wrong, accepted.order_id)
