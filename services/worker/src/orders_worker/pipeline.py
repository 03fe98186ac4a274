"""One attempt at one order: quote, route, build, submit, execute, confirm.

Every step is a transaction that compare-and-sets (status, seq) and appends the event, followed by a
publish of that event. A worker that loses a compare-and-set stops: another one holds the order.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from aio_pika.abc import AbstractExchange
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared import pools, routing
from orders_shared.amqp import publish
from orders_shared.contracts import ExecuteOrder, OrderEvent
from orders_shared.db import autocommit
from orders_shared.errors import NoRoute, SlippageExceeded
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics
from orders_shared.settings import WorkerSettings
from orders_shared.status import TERMINAL, Status
from orders_shared.tokens import Token, find_token, plain
from orders_venues import CannotFill
from orders_venues.exchange import execute
from orders_worker import chain, repository
from orders_worker.router import Router
from orders_worker.venues.simulated import VenueLatency

log = get_logger()


def swap_instructions(token_in: Token, token_out: Token, venues: list[str]) -> list[str]:
    """The transaction's instructions: SOL is wrapped into wSOL to be sold and unwrapped once bought."""
    steps = ["setComputeUnitLimit", "setComputeUnitPrice"]
    if token_in.native:
        steps += ["createAssociatedTokenAccount(wSOL)", "transfer(SOL->wSOL)", "syncNative(wSOL)"]
    elif token_out.native:
        steps += ["createAssociatedTokenAccount(wSOL)"]
    steps += [f"swap({venue})" for venue in venues]
    if token_in.native or token_out.native:
        steps.append("closeAccount(wSOL)")
    return steps


def executed_price(amount_in: Decimal, amount_out: Decimal) -> Decimal:
    """Units of tokenOut received per unit of tokenIn, to 18 significant digits."""
    with localcontext() as ctx:
        ctx.prec = 18
        return plain(amount_out / amount_in)


@dataclass(slots=True)
class Held:
    """Where this worker last saw the order: the compare-and-set of its next step names it."""

    status: Status
    seq: int


@dataclass(slots=True)
class Pipeline:
    """Runs attempts; one instance per worker process."""

    engine: AsyncEngine
    router: Router
    latency: VenueLatency
    events: AbstractExchange
    metrics: Metrics
    settings: WorkerSettings
    parsed: repository.ParsedPools
    # One-statement reads and steps run here; the swap (several statements) runs on ``engine``.
    single: AsyncEngine = field(init=False)
    _pair_locks: dict[str, asyncio.Lock] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.single = autocommit(self.engine)

    async def run(self, message: ExecuteOrder, *, redelivered: bool) -> None:
        """Take the order as far as it goes; raises VenueError (or worse) for the consumer to handle."""
        async with self.single.connect() as conn:
            order = await repository.fetch_order(conn, message.order_id)
        if order is None:
            log.warning("order_unknown")
            return
        status = Status(order.status)
        moved_on = message.seen_seq is not None and message.seen_seq != order.last_seq
        if status in TERMINAL or message.attempt < order.attempt or moved_on:
            log.info("message_stale", status=status.value, order_attempt=order.attempt)
            return
        takeover = redelivered or message.seen_seq is not None
        if status is not Status.PENDING and message.attempt == order.attempt and not takeover:
            # The same attempt is already under way elsewhere (e.g. the outbox published twice).
            log.info("message_duplicate", status=status.value)
            return
        held = Held(status, order.last_seq)
        token_in, token_out = _token(order.token_in), _token(order.token_out)
        if status is Status.SUBMITTED:
            # The swap was sent: never build another; find it on the chain, or send the same one again.
            if not order.route:
                raise NoRoute("the order was submitted without a stored route")
            decision = routing.Decision.from_json(order.route)
            await self._land(order, held, decision, token_in, token_out, resumed=True)
            return
        await self._attempt(order, held, message.attempt, token_in, token_out)

    async def _attempt(self, order: Any, held: Held, attempt: int, token_in: Token, token_out: Token) -> None:
        started = time.perf_counter()
        decision = await self.router.decide(token_in, token_out, order.amount_in, order.slippage_bps)
        quoted = await self._step(
            order.id, held, Status.ROUTING, {"quotes": decision.quotes}, attempt=attempt, started=started
        )
        if quoted is None:
            return
        log.info(
            "order_routed",
            dex_chosen=decision.dex_chosen,
            quotes={q.venue: str(q.amount_out) for q in decision.quotes},
            legs={leg.venue: leg.percent for leg in decision.legs},
            min_amount_out=str(decision.min_amount_out),
        )
        built = await self._step(
            order.id,
            held,
            Status.BUILDING,
            {
                "dexChosen": decision.dex_chosen,
                "route": decision.legs,
                "minAmountOut": decision.min_amount_out,
                "instructions": swap_instructions(token_in, token_out, [leg.venue for leg in decision.legs]),
            },
            route=decision.as_json(),
            started=time.perf_counter(),
        )
        if built is None:
            return
        signature = chain.swap_signature(order.id)
        submitted = await self._step(
            order.id,
            held,
            Status.SUBMITTED,
            {"txHash": signature},
            tx_hash=signature,
            started=time.perf_counter(),
        )
        if submitted is None:
            return
        await self._land(order, held, decision, token_in, token_out, resumed=False)

    async def _land(
        self,
        order: Any,
        held: Held,
        decision: routing.Decision,
        token_in: Token,
        token_out: Token,
        *,
        resumed: bool,
    ) -> None:
        started = time.perf_counter()
        signature = chain.swap_signature(order.id)
        landed = None
        if resumed:
            # Submitted by an earlier holder: the swap may have landed already; never send it twice.
            async with self.single.connect() as conn:
                landed = await repository.find_execution(conn, order.id)
        if landed is None:
            # The transaction travels to the chain (and may be lost on the way: a retryable failure).
            await asyncio.gather(*(self.latency.send(leg.venue) for leg in decision.legs))
        # Swaps on a pair are serial (the pools row lock); this process's swaps queue here rather than
        # each holding a database connection while it waits for that lock.
        lock = self._pair_locks.setdefault(decision.side.pair, asyncio.Lock())
        async with lock, self.engine.begin() as conn:
            # The row lock orders this swap against every other swap on the pair, on any worker.
            state = await repository.read_pools(conn, decision.side.pair, self.parsed, lock=True)
            swap = None
            if landed is not None:
                amount_out: Decimal = landed
            else:
                swap = self._swap(order, decision, state, token_in, token_out, signature)
                amount_out = swap.amount_out
            price = executed_price(order.amount_in, amount_out)
            # The swap lands only if this worker still holds the order: pools, ledger and `confirmed`
            # are one statement. Losing the compare-and-set means another holder lands it (once).
            event = await self._advance(
                conn,
                order.id,
                held,
                Status.CONFIRMED,
                {"txHash": signature, "executedPrice": price, "amountOut": amount_out},
                swap=swap,
                amount_out=amount_out,
                executed_price=price,
            )
        if event is not None and swap is not None:
            # Written under the row lock, so the row is now exactly one version on from what was read.
            self.parsed.put(swap.pair, state.version + 1, swap.pools_after)
        if event is not None:
            self.metrics.stage_duration.labels(stage="executing").observe(time.perf_counter() - started)
            self.metrics.order_duration.labels(outcome="confirmed").observe(
                (event.at - order.created_at).total_seconds()
            )
            log.info("order_confirmed", amount_out=str(amount_out), executed_price=str(price))
            await self._announce(event)

    def _swap(
        self,
        order: Any,
        decision: routing.Decision,
        state: pools.PairState,
        token_in: Token,
        token_out: Token,
        signature: str,
    ) -> repository.Swap:
        """The route executed on the pools as they are now; SlippageExceeded if it pays too little."""
        now = int(time.time())
        current = routing.settled(state, self.settings, now)
        try:
            units, after = execute(current, decision.units(token_in), decision.side.sell_base, now)
        except CannotFill as exc:
            # The pools moved since the quote and can no longer take a leg: the route's price is gone.
            raise SlippageExceeded(f"the pools can no longer fill the route quoted: {exc}") from None
        amount_out = token_out.from_base_units(units)
        if amount_out < decision.min_amount_out:
            raise SlippageExceeded(
                f"the swap would pay {amount_out} {token_out.symbol}, below the minimum of "
                f"{decision.min_amount_out} {token_out.symbol} ({order.slippage_bps} bps slippage)"
            )
        return repository.Swap(
            pair=decision.side.pair,
            pools_after=after,
            synced_at=now,
            signature=signature,
            venue=decision.dex_chosen,
            amount_in=order.amount_in,
            amount_out=amount_out,
            slot=chain.current_slot(),
        )

    async def fail(self, order_id: Any, code: str, reason: str, *, attempt: int) -> OrderEvent | None:
        """Move the order to `failed` with the reason, from wherever it is now."""
        for _ in range(3):
            async with self.engine.begin() as conn:
                order = await repository.fetch_order(conn, order_id)
                if order is None or Status(order.status) in TERMINAL:
                    return None
                event = await self._advance(
                    conn,
                    order_id,
                    Held(Status(order.status), order.last_seq),
                    Status.FAILED,
                    {"errorCode": code, "error": reason},
                    failure_code=code,
                    failure_reason=reason,
                    raise_attempt=attempt,
                )
            if event is not None:
                self.metrics.order_duration.labels(outcome="failed").observe(
                    (event.at - order.created_at).total_seconds()
                )
                log.info("order_failed", error_code=code, error=reason)
                await self._announce(event)
                return event
        return None

    async def _step(
        self,
        order_id: Any,
        held: Held,
        new: Status,
        detail: dict[str, Any],
        *,
        started: float,
        **columns: Any,
    ) -> OrderEvent | None:
        async with self.single.connect() as conn:
            event = await self._advance(conn, order_id, held, new, detail, **columns)
        if event is None:
            log.info("order_taken_by_another_worker", wanted=new.value)
            return None
        self.metrics.stage_duration.labels(stage=new.value).observe(time.perf_counter() - started)
        await self._announce(event)
        return event

    async def _advance(
        self, conn: Any, order_id: Any, held: Held, new: Status, detail: dict[str, Any], **columns: Any
    ) -> OrderEvent | None:
        event = await repository.advance(
            conn, order_id, expected=held.status, expected_seq=held.seq, new=new, detail=detail, **columns
        )
        if event is not None:
            held.status, held.seq = new, event.seq
            self.metrics.transitions.labels(status=new.value).inc()
        return event

    async def _announce(self, event: OrderEvent) -> None:
        # The event is committed: a lost doorbell only delays it, the notifier reads Postgres to fill gaps.
        try:
            await publish(self.events, f"order.{event.status.value}", event, persistent=False)
        except Exception:
            self.metrics.publish_failures.labels(kind="event").inc()
            log.warning("event_publish_failed", seq=event.seq, exc_info=True)


def _token(symbol: str) -> Token:
    token = find_token(symbol)
    if token is None:
        raise NoRoute(f"token {symbol} is no longer traded")
    return token
