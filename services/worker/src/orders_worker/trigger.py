"""The limit-order trigger: expire the open orders whose time is up and fire the ones the pools now pay,
for a pair as soon as its pools change, and every pair every second.

One evaluator per pair across the workers: each worker's trigger tries, every second, to take each pair's
Postgres session advisory lock on a connection it keeps (the pairs are the `pools` table's, so a launched
pair is evaluated from its first second); the holder evaluates the pair, the others skip it. When the
holder dies its connection closes, the lock frees, and another worker takes it on its next tick.

The same connection LISTENs on `orders_pools_changed`: a swap's landing writes the pools and notifies in
one transaction (`repository.confirm`), so the pair's holder, in whichever worker, runs that pair's pass
at once; a burst of notices for a pair is one pass. The tick stays, for the arbitrageurs' moves (the pools
settle with time, with no write) and for expiry.

A pair's pass (`pass_pair`): per direction, bound the best average price any order can get by the pools'
price for a small amount (an order's own amount only moves the price against it), read the open orders
whose limit price is within that bound (an index range scan: O(log n + found)), price each exactly with
`orders_shared.decision.decide` on the settled pools, and fire those whose best route pays
`amountIn * limitPrice`: the compare-and-set `open -> routing` is the fire (a cancel or an expiry that won
first makes it a no-op), then an `ExecuteOrder` hands it to the pipeline, which executes it with that amount
as its `minAmountOut`. A fire whose publish is lost is handed out again by the api's sweeper, as any order
stuck in routing.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal

from aio_pika.abc import AbstractExchange

from orders_shared.amqp import publish
from orders_shared.contracts import ExecuteOrder, OrderEvent
from orders_shared.db import Conn
from orders_shared.decision import decide, limit_min_out, settled
from orders_shared.errors import NoRoute
from orders_shared.logging import get_logger
from orders_shared.repository import leave_open, read_pools
from orders_shared.status import Status
from orders_shared.topology import EXECUTE_KEY
from orders_venues import PairPools, Side, orient
from orders_venues.tokens import Token
from orders_worker import repository
from orders_worker.doorbell import Doorbell
from orders_worker.repository import Waiting
from orders_worker.resources import Resources

log = get_logger()

INTERVAL_S = 1.0
# The least time between two wakes for expiry alone.
EXPIRY_SPACING_S = 0.05
# Orders looked at per pair, direction and pass; more wait for the next pass.
BATCH = 200
# The probe whose average price bounds every order's: it pays about this many base units of tokenOut, so its
# rounding moves its price by 1e-7, while a trade of a few dollars moves no pool by more than a few 1e-5 of
# its price; the margin covers both.
PROBE_OUT_UNITS = 10**7
PROBE_MARGIN = Decimal("1.001")


def lease_key(pair: str) -> str:
    """The name of a pair's advisory lock."""
    return f"orders.limit-trigger:{pair}"


@dataclass(slots=True)
class Trigger:
    """Runs the passes of one worker; ``run()`` as a task until cancelled."""

    res: Resources
    orders: AbstractExchange
    doorbell: Doorbell
    held: set[str] = field(default_factory=set)
    _conn: Conn | None = None
    # Per direction (tokenIn, tokenOut): the probe's amount of tokenIn, found once and kept while it fits.
    _probes: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    async def run(self) -> None:
        """Every INTERVAL_S a full pass; in between, a pair's pass as soon as its pools change, and the
        expiry of the held pairs' orders as the earliest one's time comes. A failure drops the connection
        (and so the leases), and the next tick starts again."""
        next_tick = time.monotonic()
        next_expiry = math.inf
        try:
            while True:
                try:
                    now = time.monotonic()
                    if now >= next_tick:
                        next_tick = now + INTERVAL_S
                        await self.pass_once()
                        next_expiry = await self.next_expiry()
                    elif now >= next_expiry:
                        await self.expire_held()
                        # Expiries due together are one wake; never more than one wake per EXPIRY_SPACING_S.
                        next_expiry = max(await self.next_expiry(), now + EXPIRY_SPACING_S)
                    else:
                        await self.on_changes(within=min(next_tick, next_expiry) - now)
                except Exception:
                    self.res.metrics.internal_errors.labels(where="limit_trigger").inc()
                    log.warning("limit_trigger_failed", exc_info=True, pairs_held=sorted(self.held))
                    await self.release()
                    await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
        finally:
            await self.release()

    async def release(self) -> None:
        """Close the lease connection: every pair's lock frees at once."""
        conn, self._conn = self._conn, None
        self.held.clear()
        if conn is not None:
            await conn.close()

    async def connection(self) -> Conn:
        """The lease connection, listening for pool changes; a new one (holding nothing) if it was lost."""
        if self._conn is None or self._conn.closed:
            self.held.clear()
            # The process id in its name tells, in pg_stat_activity, which worker holds which lease.
            conn = await self.res.db.dedicated(f"limit-trigger-{os.getpid()}")
            await repository.listen_pools(conn)
            self._conn = conn
        return self._conn

    async def on_changes(self, within: float) -> list[str]:
        """Wait up to ``within`` seconds for pools to change; run the pass of each changed pair held.
        Returns those pairs."""
        pairs = await self.changed(within)
        conn = await self.connection()
        for pair in pairs:
            await self.pass_pair(conn, pair)
        return pairs

    async def changed(self, within: float) -> list[str]:
        """The held pairs whose pools changed, waiting up to ``within`` seconds for the first notice; the
        notices already in by then come with it (a burst is one pass per pair)."""
        conn = await self.connection()
        pairs: set[str] = set()
        async for notice in conn.notifies(timeout=within, stop_after=1):
            pairs.add(notice.payload)
        if pairs:
            async for notice in conn.notifies(timeout=0):
                pairs.add(notice.payload)
        return sorted(pairs & self.held)

    async def pass_once(self) -> None:
        """Take the free leases, then expire and fire the orders of every pair held."""
        conn = await self.connection()
        pairs = await repository.traded_pairs(conn)
        for pair in pairs:
            if pair not in self.held and await repository.try_lease(conn, lease_key(pair)):
                self.held.add(pair)
                log.info("limit_trigger_lease_taken", pair=pair)
        for pair in sorted(self.held.intersection(pairs)):
            await self._expire(conn, pair)
            await self.pass_pair(conn, pair)

    async def next_expiry(self) -> float:
        """When (monotonic) the earliest open order expires, if this worker holds any pair; else never.

        The tick alone would expire an order up to INTERVAL_S late; waking at its time keeps expiry within
        moments of `expiresAt`. The look-up is of every pair (one index probe): an order of a pair held
        elsewhere costs one wake that finds nothing due.
        """
        if not self.held:
            return math.inf
        due_in = await repository.next_expiry_in(await self.connection())
        return math.inf if due_in is None else time.monotonic() + due_in

    async def expire_held(self) -> None:
        """Expire the due orders of every pair held."""
        conn = await self.connection()
        for pair in sorted(self.held):
            await self._expire(conn, pair)

    async def _expire(self, conn: Conn, pair: str) -> None:
        events = await repository.expire_due(conn, pair.split("/"), limit=BATCH)
        for event in events:
            self.res.metrics.transitions.labels(status=Status.EXPIRED.value).inc()
            log.info("limit_order_expired", order_id=str(event.order_id))
        await self._announce(events)

    async def pass_pair(self, conn: Conn, pair: str) -> None:
        """One pair's pass, on its pools as they are now: fire the open orders they pay."""
        catalog = self.res.catalog
        state = await read_pools(conn, pair, self.res.parsed, catalog)
        now = int(time.time())
        pools = settled(state, self.res.settings, now, catalog)
        base, quote = pair.split("/")
        for token_in, token_out in ((base, quote), (quote, base)):
            tin, tout = catalog.find_token(token_in), catalog.find_token(token_out)
            if tin is None or tout is None:
                return  # a pair whose tokens this process does not know: nothing can be priced
            side = orient(token_in, token_out, catalog)
            bound = self._price_bound(pools, side, tin, tout, now)
            if bound is None:
                continue
            for order in await repository.waiting_within(conn, token_in, token_out, bound, limit=BATCH):
                await self._try_fire(conn, order, pools, side, (tin, tout), now)

    async def _try_fire(
        self, conn: Conn, order: Waiting, pools: PairPools, side: Side, tokens: tuple[Token, Token], now: int
    ) -> None:
        tin, tout = tokens
        try:
            decision = decide(pools, side, tin, tout, order.amount_in, order.slippage_bps, now)
        except NoRoute:
            return
        if decision.expected_out < limit_min_out(order.amount_in, order.limit_price, tout):
            return
        event = await leave_open(conn, order.id, Status.ROUTING, {"quotes": decision.quotes}, attempt=1)
        if event is None:
            log.info("limit_order_left_open_first", order_id=str(order.id))
            return
        self.res.metrics.transitions.labels(status=Status.ROUTING.value).inc()
        log.info("limit_order_fired", order_id=str(order.id), expected_out=str(decision.expected_out))
        await self._announce([event])
        message = ExecuteOrder(order_id=order.id, attempt=event.attempt, seen_seq=event.seq)
        try:
            await publish(self.orders, EXECUTE_KEY, message)
        except Exception:
            # Committed as routing: the api's sweeper hands it out again once it has sat there too long.
            self.res.metrics.publish_failures.labels(kind="execute").inc()
            log.warning("limit_order_publish_failed", order_id=str(order.id), exc_info=True)

    def _price_bound(self, pools: PairPools, side: Side, tin: Token, tout: Token, now: int) -> Decimal | None:
        """At least the best average price (tokenOut per tokenIn) any order of this direction can get now:
        a probe's price, the probe sized to pay about PROBE_OUT_UNITS (a dust-sized probe's output rounds
        to a few base units, and its price can be a quarter off), plus the margin."""
        direction = (tin.symbol, tout.symbol)
        amount = self._probes.get(direction, Decimal(1))
        for attempt in range(4):
            try:
                probe = decide(pools, side, tin, tout, amount, 0, now)
            except NoRoute:
                return None
            units = tout.to_base_units(probe.expected_out)
            fits = PROBE_OUT_UNITS // 10 <= units <= PROBE_OUT_UNITS * 10
            if fits or (attempt == 3 and units):
                if fits:
                    self._probes[direction] = amount
                return probe.expected_out / amount * PROBE_MARGIN
            # Resized from what this one paid: the next pays about PROBE_OUT_UNITS (or, from nothing, more).
            scale = Decimal(PROBE_OUT_UNITS) / units if units else Decimal(1000)
            amount = tin.from_base_units(max(1, tin.to_base_units(amount * scale)))
        return None

    async def _announce(self, events: list[OrderEvent]) -> None:
        await self.doorbell.ring_committed(events, self.res.metrics)
