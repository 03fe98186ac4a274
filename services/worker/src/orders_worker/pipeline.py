"""One attempt at one order: quote, route, build, submit, execute, confirm.

Every write is one statement that compare-and-sets (status, seq) and appends the events of the steps it
takes, followed by a publish of each event: routing, building and submitted are one such write, as they
follow each other with nothing in between. A worker that loses a compare-and-set stops: another one holds
the order. A limit order whose swap misses its price when it lands goes back to `open` (submitted -> open,
a compare-and-set too) and waits for its trigger again; any other order fails SLIPPAGE_EXCEEDED.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from orders_shared.contracts import ExecuteOrder, OrderEvent
from orders_shared.db import Conn
from orders_shared.decision import Decision, limit_min_out
from orders_shared.errors import NoRoute
from orders_shared.launches import resolve
from orders_shared.logging import get_logger
from orders_shared.repository import OrderRow, fetch_order
from orders_shared.status import TERMINAL, Status
from orders_venues import Catalog
from orders_venues.tokens import Token
from orders_worker import chain, repository
from orders_worker.doorbell import Doorbell
from orders_worker.landing import Lander, Landing, PriceMissed, executed_price
from orders_worker.resources import Resources
from orders_worker.route_finder import RouteFinder

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


def sending_steps(
    decision: Decision, token_in: Token, token_out: Token, signature: str
) -> list[tuple[Status, dict[str, Any]]]:
    """An order's `routing`, `building` and `submitted` steps with their event details, once its route is
    chosen: written together, as one compare-and-set."""
    return [
        (Status.ROUTING, {"quotes": decision.quotes}),
        (
            Status.BUILDING,
            {
                "dexChosen": decision.dex_chosen,
                "route": decision.legs,
                "minAmountOut": decision.min_amount_out,
                "instructions": swap_instructions(token_in, token_out, [leg.venue for leg in decision.legs]),
            },
        ),
        (Status.SUBMITTED, {"txHash": signature}),
    ]


@dataclass(slots=True)
class Held:
    """Where this worker last saw the order: the compare-and-set of its next step names it."""

    status: Status
    seq: int


@dataclass(slots=True)
class Pipeline:
    """Runs attempts; one instance per worker process."""

    res: Resources
    events: Doorbell
    route_finder: RouteFinder = field(init=False)
    lander: Lander = field(init=False)

    def __post_init__(self) -> None:
        self.route_finder = RouteFinder(self.res)
        self.lander = Lander(self.res, self._announce)

    async def run(self, message: ExecuteOrder, *, redelivered: bool) -> None:
        """Take the order as far as it goes; raises VenueError (or worse) for the consumer to handle."""
        async with self.res.db.connection() as conn:
            order = await fetch_order(conn, message.order_id)
        if order is None:
            log.warning("order_unknown")
            return
        status = Status(order.status)
        if status is Status.OPEN:
            # A limit order waits for its trigger, which alone moves it on (open -> routing).
            log.info("message_for_waiting_order")
            return
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
        token_in, token_out = await self._tokens(order)
        if status is Status.SUBMITTED:
            # The swap was sent: never build another; find it on the chain, or send the same one again.
            if not order.route:
                raise NoRoute("the order was submitted without a stored route")
            decision = Decision.from_json(order.route)
            signature = chain.swap_signature(order.id)
            await self._land(order, held, decision, token_in, token_out, signature, resumed=True)
            return
        await self._attempt(order, held, message.attempt, token_in, token_out)

    async def _attempt(
        self, order: OrderRow, held: Held, attempt: int, token_in: Token, token_out: Token
    ) -> None:
        started = time.perf_counter()
        decision = await self._decide(order, token_in, token_out)
        signature = chain.swap_signature(order.id)
        # Nothing happens between routing, building and submitting once the route is chosen, so the
        # three steps are one compare-and-set: one statement writes their three events (seq n+1..n+3),
        # and the order is `submitted` before its swap is sent, as when they were three statements.
        steps = sending_steps(decision, token_in, token_out, signature)
        async with self.res.db.connection() as conn:
            events = await repository.advance_through(
                conn,
                order.id,
                expected=held.status,
                expected_seq=held.seq,
                steps=steps,
                attempt=attempt,
                route=decision.as_json(),
                tx_hash=signature,
            )
        if events is None:
            log.info("order_taken_by_another_worker", wanted=Status.ROUTING.value)
            return
        held.status, held.seq = Status.SUBMITTED, events[-1].seq
        # Building and submitting now take no time of their own: they are written with the routing step.
        written = time.perf_counter()
        for event in events:
            self.res.metrics.transitions.labels(status=event.status.value).inc()
        self.res.metrics.stage_duration.labels(stage=Status.ROUTING.value).observe(written - started)
        self.res.metrics.stage_duration.labels(stage=Status.BUILDING.value).observe(0.0)
        self.res.metrics.stage_duration.labels(stage=Status.SUBMITTED.value).observe(0.0)
        log.info(
            "order_routed",
            dex_chosen=decision.dex_chosen,
            quotes={q.venue: str(q.amount_out) for q in decision.quotes},
            legs={leg.venue: leg.percent for leg in decision.legs},
            min_amount_out=str(decision.min_amount_out),
        )
        await self._announce(events)
        await self._land(order, held, decision, token_in, token_out, signature, resumed=False)

    async def _decide(self, order: OrderRow, token_in: Token, token_out: Token) -> Decision:
        decision = await self.route_finder.decide(token_in, token_out, order.amount_in, order.slippage_bps)
        if order.limit_price is None:
            return decision
        # A limit order accepts no less than its price: that, not the slippage, is its minimum.
        return replace(decision, min_amount_out=limit_min_out(order.amount_in, order.limit_price, token_out))

    async def _land(
        self,
        order: OrderRow,
        held: Held,
        decision: Decision,
        token_in: Token,
        token_out: Token,
        signature: str,
        *,
        resumed: bool,
    ) -> None:
        started = time.perf_counter()
        landed = None
        if resumed:
            # Submitted by an earlier holder: the swap may have landed already; never send it twice.
            async with self.res.db.connection() as conn:
                landed = await repository.find_execution(conn, order.id)
        if landed is None:
            # The transaction travels to the chain (and may be lost on the way: a retryable failure).
            await asyncio.gather(*(self.res.latency.send(leg.venue) for leg in decision.legs))
        landing = Landing(
            order_id=order.id,
            held_seq=held.seq,
            amount_in=order.amount_in,
            slippage_bps=order.slippage_bps,
            decision=decision,
            token_in=token_in,
            token_out=token_out,
            signature=signature,
            landed=landed,
        )
        try:
            event = await self.lander.land(landing)
        except PriceMissed as missed:
            if order.type != "limit" or order.limit_price is None:
                raise
            await self._reopen(order, held, missed)
            return
        if event is None:
            log.info("order_taken_by_another_worker", wanted=Status.CONFIRMED.value)
            return
        held.status, held.seq = Status.CONFIRMED, event.seq
        self.res.metrics.transitions.labels(status=Status.CONFIRMED.value).inc()
        self.res.metrics.stage_duration.labels(stage="executing").observe(time.perf_counter() - started)
        self.res.metrics.order_duration.labels(outcome="confirmed").observe(
            (event.at - order.created_at).total_seconds()
        )
        log.info(
            "order_confirmed", amount_out=str(event.amount_out), executed_price=str(event.executed_price)
        )
        # Announced by the lander, with the other `confirmed` events of its batch.

    async def _reopen(self, order: OrderRow, held: Held, missed: PriceMissed) -> None:
        """The limit order's swap no longer pays its price: back to `open` (its swap never landed), to
        wait for its trigger again, with the price it would have paid."""
        detail: dict[str, Any] = {"limitPrice": order.limit_price}
        if missed.amount_out is not None:
            detail["missedPrice"] = executed_price(order.amount_in, missed.amount_out)
        async with self.res.db.connection() as conn:
            event = await self._advance(conn, order.id, held, Status.OPEN, detail, route=None, tx_hash=None)
        if event is None:
            log.info("order_taken_by_another_worker", wanted=Status.OPEN.value)
            return
        log.info("limit_order_missed_price", missed_price=str(detail.get("missedPrice")), error=str(missed))
        await self._announce([event])

    async def fail(self, order_id: uuid.UUID, code: str, reason: str, *, attempt: int) -> OrderEvent | None:
        """Move the order to `failed` with the reason, from wherever it is now."""
        for _ in range(3):
            async with self.res.db.transaction() as conn:
                order = await fetch_order(conn, order_id)
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
                self.res.metrics.order_duration.labels(outcome="failed").observe(
                    (event.at - order.created_at).total_seconds()
                )
                log.info("order_failed", error_code=code, error=reason)
                await self._announce([event])
                return event
        return None

    async def _advance(
        self,
        conn: Conn,
        order_id: uuid.UUID,
        held: Held,
        new: Status,
        detail: dict[str, Any],
        *,
        raise_attempt: int | None = None,
        **columns: object,
    ) -> OrderEvent | None:
        event = await repository.advance(
            conn,
            order_id,
            expected=held.status,
            expected_seq=held.seq,
            new=new,
            detail=detail,
            raise_attempt=raise_attempt,
            **columns,
        )
        if event is not None:
            held.status, held.seq = new, event.seq
            self.res.metrics.transitions.labels(status=new.value).inc()
        return event

    async def _tokens(self, order: OrderRow) -> tuple[Token, Token]:
        """The order's tokens; one launched since this process last looked is read from Postgres."""
        catalog = self.res.catalog
        if catalog.find_token(order.token_in) is None or catalog.find_token(order.token_out) is None:
            async with self.res.db.connection() as conn:
                for symbol in (order.token_in, order.token_out):
                    await resolve(conn, catalog, symbol)
        return _token(catalog, order.token_in), _token(catalog, order.token_out)

    async def _announce(self, events: list[OrderEvent]) -> None:
        await self.events.ring_committed(events, self.res.metrics)


def _token(catalog: Catalog, symbol: str) -> Token:
    token = catalog.find_token(symbol)
    if token is None:
        raise NoRoute(f"token {symbol} is no longer traded")
    return token
