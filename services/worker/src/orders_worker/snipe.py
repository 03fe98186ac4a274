"""Launches in the worker: the seeded launch schedule, and the sniper orders that fire when a pool opens.

Every pass (LAUNCH_PASS_S, and right as a pool it knows of opens), each worker:

- writes the schedule's launches that are due (MARKET_LAUNCHES_PER_HOUR; the same ones on every worker,
  inserted idempotently: the worker whose insert wrote one announces it);
- expires the sniper orders whose time is up (compare-and-set `open -> expired`);
- fires the snipers of every launch whose pool has opened: the launch's first pair turn.

A launch's turn is one transaction, as a block: lock the pools row (the pair's turn, as for every swap),
lock its open snipers in submission order, run each one's swap on the pools in memory — each moves the
pool, so the later ones get worse prices, as on chain — and write every order's steps by compare-and-set
from (`open`, its seq): `routing, building, submitted` and then `confirmed` (with its ledger entry and
the pools after, in one statement) or `failed` with SLIPPAGE_EXCEEDED when the swap would pay less than
the quote on the opening pool less its slippage, or a worse average price than its `maxPrice`. Two
workers may try the same turn: the row lock orders them and the second finds no open sniper left.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aio_pika.abc import AbstractExchange

from orders_shared.contracts import OrderEvent
from orders_shared.db import Conn
from orders_shared.decision import decide
from orders_shared.errors import NoRoute
from orders_shared.launches import Launch, announce, due, launch, learn, refresh
from orders_shared.logging import get_logger
from orders_shared.repository import Sniper, due_snipes, expire_snipers, open_snipers, read_pools
from orders_shared.status import Status
from orders_venues import CannotFill, Catalog, Listing, PairPools, Side
from orders_venues.exchange import execute
from orders_venues.tokens import plain
from orders_worker import chain, repository
from orders_worker.doorbell import Doorbell
from orders_worker.landing import executed_price
from orders_worker.pipeline import sending_steps
from orders_worker.repository import Confirmation, Ledger
from orders_worker.resources import Resources

log = get_logger()

LAUNCH_PASS_S = 0.5
# Snipers fired per launch and turn; more land in the next turn.
BATCH = 500
# A pass aimed at a pool's opening starts this long after it, so the database's clock has passed it too.
OPENING_MARGIN_S = 0.005
# How often a worker reads every launch from Postgres (it learns of one sooner when it meets it).
REFRESH_S = 5.0


@dataclass(slots=True)
class _Turn:
    """What a launch's turn decided in memory: each order's steps, the confirmations, the pools after."""

    pools: PairPools
    steps: list[tuple[Sniper, list[tuple[Status, dict[str, Any]]], dict[str, Any]]] = field(
        default_factory=list
    )
    confirmations: dict[uuid.UUID, Confirmation] = field(default_factory=dict)
    swapped: bool = False


@dataclass(slots=True)
class Launchpad:
    """The launch passes of one worker; ``run()`` as a task until cancelled."""

    res: Resources
    market: AbstractExchange
    doorbell: Doorbell
    _written: set[str] = field(default_factory=set)
    _refresh_at: float = 0.0

    async def run(self) -> None:
        """A pass every LAUNCH_PASS_S; a failed pass is counted and logged, and the next one goes on."""
        while True:
            started = time.monotonic()
            try:
                await self.pass_once()
            except Exception:
                self.res.metrics.internal_errors.labels(where="launchpad").inc()
                log.warning("launch_pass_failed", exc_info=True)
            await asyncio.sleep(_until_next_pass(started, self.res.catalog))

    async def pass_once(self) -> None:
        """Write the due scheduled launches, expire due snipers, fire the snipers of opened launches; now
        and then, learn every launch (so the process's catalog knows every pair)."""
        await self.schedule(datetime.now(UTC))
        async with self.res.db.connection() as conn:
            if time.monotonic() >= self._refresh_at:
                await refresh(conn, self.res.catalog)
                self._refresh_at = time.monotonic() + REFRESH_S
            expired = await expire_snipers(conn, limit=BATCH)
            opened = await due_snipes(conn)
        for event in expired:
            self.res.metrics.transitions.labels(status=Status.EXPIRED.value).inc()
            log.info("sniper_order_expired", order_id=str(event.order_id))
        await self._ring(expired)
        for record in opened:
            await self.fire(Launch.from_record(record))

    async def schedule(self, now: datetime) -> list[Launch]:
        """Write the schedule's launches due by ``now``; those this worker wrote (and announced)."""
        wrote: list[Launch] = []
        for planned in due(self.res.settings.market_seed, self.res.settings.market_launches_per_hour, now):
            if planned.token.symbol in self._written:
                continue
            async with self.res.db.connection() as conn:
                created = await launch(conn, self.res.catalog, planned)
            self._written.add(planned.token.symbol)
            if created:
                wrote.append(planned)
                await announce(self.market, planned, self.res.metrics)
        return wrote

    async def fire(self, opened: Launch) -> list[OrderEvent]:
        """The launch's turn: its open snipers' swaps, in submission order, in one transaction."""
        learn(self.res.catalog, opened)
        pair = opened.pair
        async with self.res.db.transaction() as conn:
            state = await read_pools(conn, pair, self.res.parsed, self.res.catalog, lock=True)
            snipers = await open_snipers(conn, [opened.token.symbol, opened.token.mint], limit=BATCH)
            if not snipers:
                return []
            now = int(time.time())
            turn = _run(opened, snipers, state.pools, now)
            events = await _write(conn, turn, pair, self.res.catalog.listing(pair), now)
        if turn.swapped and any(e.status is Status.CONFIRMED for e in events):
            self.res.parsed.put(pair, state.version + 1, turn.pools)
        for event in events:
            self.res.metrics.transitions.labels(status=event.status.value).inc()
        log.info("launch_sniped", pair=pair, snipers=len(snipers), events=len(events))
        await self._ring(events)
        return events

    async def _ring(self, events: list[OrderEvent]) -> None:
        await self.doorbell.ring_committed(events, self.res.metrics)


def _until_next_pass(started: float, catalog: Catalog) -> float:
    """Seconds to the next pass: LAUNCH_PASS_S after the last one began, or sooner if a pool this process
    knows of opens before then, so its snipers' turn comes right as it opens."""
    wait = LAUNCH_PASS_S - (time.monotonic() - started)
    now = time.time()
    for pair in catalog.pairs():
        known = catalog.listing(pair)
        if known is not None and now < known.opens_at:
            wait = min(wait, known.opens_at - now + OPENING_MARGIN_S)
    return max(0.0, wait)


def _run(opened: Launch, snipers: list[Sniper], opening: PairPools, now: int) -> _Turn:
    """Each sniper's swap in turn on the pools, each on the pools the one before it left."""
    turn = _Turn(opening)
    side = Side(opened.pair, sell_base=False)
    token_in, token_out = opened.quote, opened.token
    for sniper in snipers:
        signature = chain.swap_signature(sniper.id)
        if sniper.token_in != token_in.symbol:
            reason = (
                f"{token_out.symbol} launched against {token_in.symbol}; this order sells {sniper.token_in}"
            )
            turn.steps.append((sniper, [(Status.ROUTING, {}), _failed("NO_ROUTE", reason)], _failure(reason)))
            continue
        try:
            # The order's quote is the pool as it opened: what it would get landing first.
            decision = decide(opening, side, token_in, token_out, sniper.amount_in, sniper.slippage_bps, now)
        except NoRoute as exc:
            turn.steps.append(
                (
                    sniper,
                    [(Status.ROUTING, {}), _failed("NO_ROUTE", str(exc))],
                    _failure(str(exc), "NO_ROUTE"),
                )
            )
            continue
        sent = sending_steps(decision, token_in, token_out, signature)
        columns: dict[str, Any] = {"route": decision.as_json(), "tx_hash": signature, "attempt": 1}
        missed: str | None
        try:
            units, after = execute(turn.pools, decision.units(token_in), side.sell_base, now)
            amount_out = token_out.from_base_units(units)
        except CannotFill as exc:
            after, amount_out = turn.pools, Decimal(0)
            missed = f"the pool can no longer fill the swap: {exc}"
        else:
            missed = _missed(sniper, amount_out, decision.min_amount_out, token_in.symbol, token_out.symbol)
        if missed is not None:
            sent.append(_failed("SLIPPAGE_EXCEEDED", missed))
            turn.steps.append((sniper, sent, {**columns, **_failure(missed)}))
            continue
        turn.pools, turn.swapped = after, True
        turn.steps.append((sniper, sent, columns))
        turn.confirmations[sniper.id] = Confirmation(
            order_id=sniper.id,
            expected_seq=0,  # the seq its `submitted` step gets, filled in when written
            signature=signature,
            amount_out=amount_out,
            executed_price=executed_price(sniper.amount_in, amount_out),
            ledger=Ledger(decision.dex_chosen, sniper.amount_in, chain.current_slot()),
        )
    return turn


def _missed(
    sniper: Sniper, amount_out: Decimal, min_out: Decimal, symbol_in: str, symbol_out: str
) -> str | None:
    """Why the swap may not land (its slippage or its maxPrice missed), or None."""
    if amount_out < min_out:
        return (
            f"the swap would pay {amount_out} {symbol_out}, below the minimum of {min_out} {symbol_out} "
            f"({sniper.slippage_bps} bps slippage from the opening price)"
        )
    paid = plain(sniper.amount_in / amount_out) if amount_out > 0 else None
    if sniper.max_price is not None and (paid is None or paid > sniper.max_price):
        return (
            f"the swap would pay {paid} {symbol_in} per {symbol_out} on average, above the maxPrice of "
            f"{plain(sniper.max_price)}"
        )
    return None


def _failed(code: str, reason: str) -> tuple[Status, dict[str, Any]]:
    return Status.FAILED, {"errorCode": code, "error": reason}


def _failure(reason: str, code: str = "SLIPPAGE_EXCEEDED") -> dict[str, Any]:
    return {"failure_code": code, "failure_reason": reason}


async def _write(conn: Conn, turn: _Turn, pair: str, launched: Listing | None, now: int) -> list[OrderEvent]:
    """Every order's steps (compare-and-set from its open seq), then the confirmations with the pools."""
    events: list[OrderEvent] = []
    confirmations: list[Confirmation] = []
    for sniper, steps, columns in turn.steps:
        written = await repository.advance_through(
            conn, sniper.id, expected=Status.OPEN, expected_seq=sniper.last_seq, steps=steps, **columns
        )
        if written is None:
            # Locked open by this turn, so nothing else can have moved it; if something did, the pools in
            # memory hold a swap that must not land: undo the whole turn.
            raise RuntimeError(f"sniper order {sniper.id} left open under the turn's lock")
        events.extend(written)
        if sniper.id in turn.confirmations:
            confirmations.append(replace(turn.confirmations[sniper.id], expected_seq=written[-1].seq))
    if confirmations:
        confirmed = await repository.confirm(
            conn,
            confirmations,
            pair=pair,
            pools_after=turn.pools if turn.swapped else None,
            launched=launched,
            synced_at=now,
        )
        events.extend(confirmed[c.order_id] for c in confirmations if c.order_id in confirmed)
    return events
