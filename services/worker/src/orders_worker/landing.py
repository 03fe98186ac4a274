"""Swaps land a pair at a time, and whoever gets the pair's turn lands every swap waiting for it.

A swap must see the pools as the previous swap on its pair left them, so a pair's swaps are serial: the
pools row lock orders them across workers. One transaction per swap made that lock the bottleneck (each
swap held it for four round trips while hundreds queued), so the task that gets a pair's turn lands every
swap this process has queued for the pair in one transaction: lock the pools, lock the orders and check
each is still where its holder left it, run the swaps one after the other on the pools in memory, then
write every confirmation, ledger entry and the pools in one statement. They commit together or not at all.
The same task then announces the batch's `confirmed` events, all in one publish.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from orders_shared.contracts import OrderEvent
from orders_shared.decision import Decision, settled
from orders_shared.errors import SlippageExceeded
from orders_shared.repository import read_pools
from orders_shared.status import Status
from orders_venues import CannotFill, PairPools
from orders_venues.exchange import execute
from orders_venues.tokens import Token, plain
from orders_worker import chain
from orders_worker.repository import Confirmation, Ledger, Locked, confirm, lock_orders
from orders_worker.resources import Resources


def executed_price(amount_in: Decimal, amount_out: Decimal) -> Decimal:
    """Units of tokenOut received per unit of tokenIn, to 18 significant digits."""
    with localcontext() as ctx:
        ctx.prec = 18
        return plain(amount_out / amount_in)


class PriceMissed(SlippageExceeded):
    """The pools, as the swaps before it left them, pay the swap less than its minimum.

    ``amount_out`` is what it would have paid; None when the pools can no longer fill its route at all.
    """

    def __init__(self, message: str, amount_out: Decimal | None) -> None:
        super().__init__(message)
        self.amount_out = amount_out


@dataclass(slots=True)
class Landing:
    """An order's swap, sent and waiting for its pair's turn; ``outcome`` is its `confirmed` event."""

    order_id: uuid.UUID
    held_seq: int
    amount_in: Decimal
    slippage_bps: int
    decision: Decision
    token_in: Token
    token_out: Token
    signature: str
    # What an earlier holder's swap paid, found in the ledger: confirm it, do not swap again.
    landed: Decimal | None
    outcome: asyncio.Future[OrderEvent | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(slots=True)
class Lander:
    """Lands swaps in batches, one pair at a time; one instance per worker process."""

    res: Resources
    # Publishes committed events (and owns what a failed publish means): the pipeline's.
    announce: Callable[[list[OrderEvent]], Awaitable[None]]
    _waiting: dict[str, list[Landing]] = field(default_factory=dict)
    _turns: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def land(self, landing: Landing) -> OrderEvent | None:
        """Land the swap (with the others waiting on its pair); None if another worker holds the order.

        Raises PriceMissed when the pools, as the swaps before it left them, pay too little.
        """
        pair = landing.decision.side.pair
        self._waiting.setdefault(pair, []).append(landing)
        confirmed: list[OrderEvent] = []
        try:
            async with self._turns.setdefault(pair, asyncio.Lock()):
                if not landing.outcome.done():
                    confirmed = await self._land_all(pair, self._waiting.pop(pair))
        except asyncio.CancelledError:
            # Cancelled while queued (shutdown): withdraw the swap rather than let the next turn land it
            # with nobody left to announce it. The order stays `submitted`; its redelivery lands it.
            if pair in self._waiting:
                self._waiting[pair] = [queued for queued in self._waiting[pair] if queued is not landing]
            raise
        if confirmed:
            # After the pair's turn is handed on: the next batch need not wait for this publish.
            await self.announce(confirmed)
        return landing.outcome.result()

    async def _land_all(self, pair: str, batch: list[Landing]) -> list[OrderEvent]:
        """Land the batch; the `confirmed` events it committed, in the batch's order."""
        try:
            async with self.res.db.transaction() as conn:
                state = await read_pools(conn, pair, self.res.parsed, self.res.catalog, lock=True)
                held = await lock_orders(conn, [landing.order_id for landing in batch])
                now = int(time.time())
                turn = _run_swaps(batch, held, settled(state, self.res.settings, now, self.res.catalog), now)
                events = (
                    await confirm(
                        conn,
                        turn.confirmations,
                        pair=pair,
                        pools_after=turn.pools if turn.swapped else None,
                        launched=self.res.catalog.listing(pair),
                        synced_at=now,
                    )
                    if turn.confirmations
                    else {}
                )
        except asyncio.CancelledError:
            _settle(batch, asyncio.CancelledError())
            raise
        except Exception as exc:  # noqa: BLE001 - raised again in the task of every order of the batch
            _settle(batch, exc)
            return []
        if turn.swapped and events:
            # Written under the row lock, so the row is exactly one version on from what was read.
            self.res.parsed.put(pair, state.version + 1, turn.pools)
        for landing in batch:
            if landing.order_id in turn.failed:
                landing.outcome.set_exception(turn.failed[landing.order_id])
            else:
                landing.outcome.set_result(events.get(landing.order_id))
        return [events[landing.order_id] for landing in batch if landing.order_id in events]


@dataclass(slots=True)
class _Turn:
    """What a pair's turn did in memory: the confirmations to write and the pools after its swaps."""

    pools: PairPools
    confirmations: list[Confirmation] = field(default_factory=list)
    failed: dict[uuid.UUID, PriceMissed] = field(default_factory=dict)
    swapped: bool = False


def _run_swaps(batch: list[Landing], held: dict[uuid.UUID, Locked], pools: PairPools, now: int) -> _Turn:
    """Each still-held order's swap in turn on ``pools``; one that pays too little drops out alone."""
    turn = _Turn(pools)
    for landing in batch:
        locked = held.get(landing.order_id)
        if locked is None or (locked.status, locked.last_seq) != (Status.SUBMITTED.value, landing.held_seq):
            continue  # another worker holds it now: it lands it, or already has
        ledger = None
        amount_out = landing.landed
        if amount_out is None:
            try:
                amount_out, turn.pools = _swap(landing, turn.pools, now)
            except PriceMissed as exc:
                turn.failed[landing.order_id] = exc
                continue
            ledger = Ledger(landing.decision.dex_chosen, landing.amount_in, chain.current_slot())
            turn.swapped = True
        turn.confirmations.append(
            Confirmation(
                order_id=landing.order_id,
                expected_seq=landing.held_seq,
                signature=landing.signature,
                amount_out=amount_out,
                executed_price=executed_price(landing.amount_in, amount_out),
                ledger=ledger,
            )
        )
    return turn


def _swap(landing: Landing, pools: PairPools, now: int) -> tuple[Decimal, PairPools]:
    """The route run on ``pools``: what it pays and the pools after; PriceMissed if too little."""
    decision, token_out = landing.decision, landing.token_out
    try:
        units, after = execute(pools, decision.units(landing.token_in), decision.side.sell_base, now)
    except CannotFill as exc:
        # The pools moved since the quote and can no longer take a leg: the route's price is gone.
        raise PriceMissed(f"the pools can no longer fill the route quoted: {exc}", None) from None
    amount_out = token_out.from_base_units(units)
    if amount_out < decision.min_amount_out:
        raise PriceMissed(
            f"the swap would pay {amount_out} {token_out.symbol}, below the minimum of "
            f"{decision.min_amount_out} {token_out.symbol} ({landing.slippage_bps} bps slippage)",
            amount_out,
        )
    return amount_out, after


def _settle(batch: list[Landing], exc: BaseException) -> None:
    for landing in batch:
        if not landing.outcome.done():
            if isinstance(exc, asyncio.CancelledError):
                landing.outcome.cancel()
            else:
                landing.outcome.set_exception(exc)
