"""The soak's order mix: market orders on four pairs, and limit orders placed around the market's price,
some of which the soak client cancels at random moments, racing their trigger.

A limit order is placed from the pair's price right now (`GET /api/quote` for its amount: what the best
route pays, fees included, which is what the trigger compares with ``limitPrice``):

- ``marketable``: 1% under it: the trigger fires it on its next pass (unless the market runs away first);
- ``near``: a few bps over it: it fires if the pools move its way before its expiry (5-20 s), else expires;
- ``far``: three times it: it never fires and expires after 2-10 s.

A share of the limit orders is cancelled 0-1 s after the 202 (the trigger's pass is every second, so some
cancels win and some find the order fired or expired), on connections of their own so that they do not
queue behind the submissions; a cancel answered 200 is sent again, and must be answered 200, `cancelled`,
again.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

import httpx

from soak.watcher import Watcher
from tests.support.reconcile import CancelAnswer

CHUNK = 100
CONNECTIONS = 32
PAIRS = (("SOL", "USDC", "0.5"), ("USDC", "SOL", "75"), ("SOL", "USDT", "1.25"), ("USDT", "USDC", "100"))
MARKETABLE = Decimal("0.99")
NEAR = Decimal("1.0005")
FAR = Decimal(3)
CANCEL_WITHIN_S = 1.0
TRIES = 30
MAX_RETRY_AFTER_S = 2.0


class Placement(StrEnum):
    """Where a limit order's price sits against the market when it is placed."""

    MARKETABLE = "marketable"
    NEAR = "near"
    FAR = "far"


@dataclass
class Sent:
    """What the soak client sent and what it was answered."""

    ids: list[uuid.UUID] = field(default_factory=list)
    placement: dict[uuid.UUID, Placement] = field(default_factory=dict)
    cancels: dict[uuid.UUID, CancelAnswer] = field(default_factory=dict)
    # Cancels answered 200 whose repeat was not answered 200 with the order cancelled.
    repeat_cancel_mismatches: list[uuid.UUID] = field(default_factory=list)
    # Requests sent again, by why (a dropped connection, a 503 while Postgres was away).
    retries: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Planned:
    """An order to send: its body, and for a limit order where it sits, how long it may wait (its
    ``expiresAt`` is set as it leaves: a chunk's last order leaves seconds after its first) and when the
    soak cancels it."""

    body: dict[str, str]
    placement: Placement | None = None
    waits: timedelta | None = None
    cancel_after_s: float | None = None


@dataclass
class Mix:
    """Draws each order's kind from a seeded generator: the same seed, the same mix."""

    rng: random.Random
    limit_share: float
    cancel_share: float

    def placement(self) -> Placement | None:
        """None for a market order, else where the limit order goes."""
        if self.rng.random() >= self.limit_share:
            return None
        return self.rng.choices(list(Placement), weights=(4, 3, 3))[0]

    def limit_terms(self, placement: Placement, price: Decimal) -> tuple[dict[str, str], timedelta]:
        """The body's ``limitPrice`` for a limit order placed at ``placement``, and how long it may wait."""
        if placement is Placement.MARKETABLE:
            limit, expires = price * MARKETABLE, timedelta(seconds=30)
        elif placement is Placement.NEAR:
            limit, expires = price * NEAR, timedelta(seconds=self.rng.uniform(5, 20))
        else:
            limit, expires = price * FAR, timedelta(seconds=self.rng.uniform(3, 10))
        return {"type": "limit", "limitPrice": f"{limit.quantize(Decimal('1e-9')).normalize():f}"}, expires

    def plan(self, n: int, prices: Mapping[tuple[str, str], Decimal]) -> Planned:
        """The ``n``-th order, its pair's price now being ``prices[tokenIn, tokenOut]``."""
        token_in, token_out, amount = PAIRS[n % len(PAIRS)]
        body = {"tokenIn": token_in, "tokenOut": token_out, "amountIn": amount}
        placement = self.placement()
        if placement is None:
            return Planned(body)
        terms, waits = self.limit_terms(placement, prices[token_in, token_out])
        return Planned({**body, **terms}, placement, waits, self.cancel_after_s())

    def cancel_after_s(self) -> float | None:
        """How long after its 202 the soak cancels a limit order; None if it leaves it alone."""
        if self.rng.random() >= self.cancel_share:
            return None
        return self.rng.uniform(0, CANCEL_WITHIN_S)


async def _call(send: Callable[[], Awaitable[httpx.Response]], retries: Counter[str]) -> httpx.Response:
    """``send``, again after a dropped connection or a 503 (the api's answer while Postgres is away:
    after its Retry-After); every call here is idempotent. ``retries`` counts why it sent again."""
    for _ in range(TRIES - 1):
        try:
            response = await send()
        except httpx.TransportError:
            retries["dropped connection"] += 1
            continue
        if response.status_code != 503:
            return response
        retries["503"] += 1
        # The api asks to be called again later; this waits as long as it says (bounded), as clients must.
        await asyncio.sleep(min(float(response.headers.get("Retry-After", 1)), MAX_RETRY_AFTER_S))
    return await send()


async def submit(client: httpx.AsyncClient, body: Mapping[str, object], retries: Counter[str]) -> uuid.UUID:
    """POST one order; a retry carries the same body and Idempotency-Key, so it never makes a second."""
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    response = await _call(lambda: client.post("/api/orders/execute", json=body, headers=headers), retries)
    if response.status_code not in (200, 202):
        raise RuntimeError(f"order refused: {response.status_code} {response.text}")
    return uuid.UUID(response.json()["orderId"])


async def cancel(client: httpx.AsyncClient, order_id: uuid.UUID, retries: Counter[str]) -> CancelAnswer:
    """DELETE the order; its answer."""
    response = await _call(lambda: client.delete(f"/api/orders/{order_id}"), retries)
    status = response.json().get("status") if response.status_code == 200 else None
    return CancelAnswer(response.status_code, status)


async def _cancel_later(client: httpx.AsyncClient, order_id: uuid.UUID, after_s: float, sent: Sent) -> None:
    # The wait is the point: the cancel lands at a random moment of the order's life, racing its trigger.
    await asyncio.sleep(after_s)
    answer = sent.cancels[order_id] = await cancel(client, order_id, sent.retries)
    if answer.code == 200 and await cancel(client, order_id, sent.retries) != answer:
        sent.repeat_cancel_mismatches.append(order_id)


async def _prices(client: httpx.AsyncClient, retries: Counter[str]) -> dict[tuple[str, str], Decimal]:
    """Each pair's price now for its amount: tokenOut per tokenIn that the best route pays."""

    async def one(token_in: str, token_out: str, amount: str) -> Decimal:
        params = {"tokenIn": token_in, "tokenOut": token_out, "amountIn": amount}
        response = await _call(lambda: client.get("/api/quote", params=params), retries)
        response.raise_for_status()
        return Decimal(response.json()["expectedAmountOut"]) / Decimal(amount)

    prices = await asyncio.gather(*(one(*pair) for pair in PAIRS))
    return {(a, b): price for (a, b, _), price in zip(PAIRS, prices, strict=True)}


async def submit_all(
    client: httpx.AsyncClient,
    canceller: httpx.AsyncClient,
    watcher: Watcher,
    mix: Mix,
    orders: int,
    on_half: Callable[[], None],
) -> Sent:
    """POST ``orders`` orders a chunk at a time, following each chunk as it is accepted and cancelling
    (with ``canceller``) the limit orders the mix says, at their moment; returns once every cancel has
    been answered."""
    sent = Sent()
    cancels: list[asyncio.Task[None]] = []

    # As many in flight as the client has connections, so an order's expiresAt is stamped as it leaves,
    # not while it queues for a connection.
    in_flight = asyncio.Semaphore(CONNECTIONS)

    async def one(planned: Planned) -> uuid.UUID:
        body = dict(planned.body)
        async with in_flight:
            if planned.waits is not None:
                body["expiresAt"] = (datetime.now(UTC) + planned.waits).isoformat()
            order_id = await submit(client, body, sent.retries)
        if planned.placement is not None:
            sent.placement[order_id] = planned.placement
        if planned.cancel_after_s is not None:
            # Timed from this order's 202, not from its chunk's end.
            task = _cancel_later(canceller, order_id, planned.cancel_after_s, sent)
            cancels.append(asyncio.create_task(task))
        return order_id

    try:
        for start in range(0, orders, CHUNK):
            prices = await _prices(client, sent.retries)
            chunk = list(
                await asyncio.gather(
                    *(one(mix.plan(n, prices)) for n in range(start, min(start + CHUNK, orders)))
                )
            )
            sent.ids.extend(chunk)
            await watcher.follow(chunk)
            if start < orders // 2 <= start + CHUNK:
                on_half()
    except BaseException:
        for task in cancels:
            task.cancel()
        raise
    await asyncio.gather(*cancels)
    return sent
