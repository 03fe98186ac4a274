"""SQL of the worker: compare-and-set transitions with their events, and the swap ledger. Never commits.

Every order runs these statements several times, so they are SQL text on a psycopg connection from the
worker's pool (`orders_shared.db.create_pool`): prepared, never compiled. Connections are in autocommit:
a one-statement step needs no BEGIN/COMMIT; `confirm` and `lock_orders` run inside a transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.rows import namedtuple_row
from psycopg.types.json import Jsonb

from orders_shared.contracts import OrderEvent
from orders_shared.pools import PairState, dump, load
from orders_shared.status import Status, ensure_legal
from orders_venues import PairPools

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Ledger:
    """What the ledger keeps of a swap besides its order, signature and output."""

    venue: str
    amount_in: Decimal
    slot: int


@dataclass(frozen=True, slots=True)
class Confirmation:
    """An order to confirm from (submitted, ``expected_seq``), with the ledger entry of its swap.

    ``ledger`` is None when an earlier holder's swap already landed: the order is only confirmed.
    """

    order_id: uuid.UUID
    expected_seq: int
    signature: str
    amount_out: Decimal
    executed_price: Decimal
    ledger: Ledger | None


_ORDER = """
SELECT id, status, last_seq, attempt, token_in, token_out, amount_in, slippage_bps, route, created_at
FROM orders WHERE id = %(id)s
"""


async def fetch_order(pg: AsyncConnection[Any], order_id: uuid.UUID) -> Any | None:
    """What the worker needs of the order (a named tuple), or None if there is no such order."""
    async with pg.cursor(row_factory=namedtuple_row) as cur:
        await cur.execute(_ORDER, {"id": order_id}, prepare=True)
        return await cur.fetchone()


@dataclass(slots=True)
class ParsedPools:
    """Each pair's pools as last parsed, by version: parsing is most of what reading the pools costs."""

    by_pair: dict[str, tuple[int, PairPools]] = field(default_factory=dict)

    def version(self, pair: str) -> int:
        """The version of the pair's pools parsed last; -1 if none."""
        known = self.by_pair.get(pair)
        return known[0] if known is not None else -1

    def entry(self, pair: str) -> tuple[int, PairPools] | None:
        """The pair's (version, pools) parsed last, if any."""
        return self.by_pair.get(pair)

    def put(self, pair: str, version: int, pools: PairPools) -> None:
        """Remember the pair's pools at ``version``."""
        self.by_pair[pair] = (version, pools)


# The state comes back only when it is not the version the caller has parsed already.
_POOLS = """
SELECT version, synced_at, origin, CASE WHEN version = %(known)s THEN NULL ELSE state END
FROM pools WHERE pair = %(pair)s
"""
_POOLS_LOCKED = _POOLS + " FOR UPDATE"


async def read_pools(
    pg: AsyncConnection[Any], pair: str, parsed: ParsedPools, *, lock: bool = False
) -> PairState:
    """One pair's pools; with ``lock``, held until the transaction ends."""
    # Taken before the query: another task of this worker may replace the entry while the query runs,
    # and a NULL state means "the version you sent", whatever the cache holds by the time it arrives.
    cached = parsed.entry(pair)
    known = cached[0] if cached is not None else -1
    cur = await pg.execute(_POOLS_LOCKED if lock else _POOLS, {"pair": pair, "known": known}, prepare=True)
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"no pools for {pair}")
    version, synced_at, origin, state = row
    if state is None and cached is not None:
        pools = cached[1]
    else:
        pools = load(state)
        # Versions only grow: a read that another task's newer entry overtook must not move the cache
        # back, or the next read would parse again what this worker has parsed already.
        if version > parsed.version(pair):
            parsed.put(pair, version, pools)
    return PairState(pools, synced_at, origin, version)


def _draft(order_id: uuid.UUID, status: Status, detail: dict[str, Any]) -> tuple[OrderEvent, Jsonb]:
    """The event validated ahead of its row, and the detail to store.

    Its seq, time and attempt are the database's, filled in from RETURNING; validating first means the
    detail stored is exactly what subscribers will be sent. The attempt is stored as the row has it.
    """
    draft = OrderEvent.model_validate(
        {**detail, "orderId": order_id, "seq": 1, "status": status, "at": _EPOCH}
    )
    stored = draft.detail()
    stored.pop("attempt", None)
    return draft, Jsonb(stored, dumps=orjson.dumps)


def _advance_sql(columns: tuple[str, ...], *, raise_attempt: bool, steps: int) -> str:
    sets = "".join(f", {name} = %({name})s" for name in columns)
    if raise_attempt:
        sets += ", attempt = GREATEST(attempt, %(raise_attempt)s)"
    # The order moves as many seqs as there are steps, and each step's event gets the seq it reached: the
    # k-th of n events is last_seq - n + k. Every event's detail carries the attempt the row has after the
    # update. The steps are parameters of their own, not arrays: one Jsonb each costs less to send.
    rows = ", ".join(f"({k}, %(status_{k})s::text, %(detail_{k})s::jsonb)" for k in range(1, steps + 1))
    return f"""
WITH moved AS (
    UPDATE orders
    SET status = %(new)s, last_seq = last_seq + {steps}, updated_at = clock_timestamp(){sets}
    WHERE id = %(id)s AND status = %(expected)s AND last_seq = %(expected_seq)s
    RETURNING last_seq, updated_at, attempt
), appended AS (
    INSERT INTO order_events (order_id, seq, status, detail, created_at)
    SELECT %(id)s, moved.last_seq - {steps} + s.n, s.status,
        s.detail || jsonb_build_object('attempt', moved.attempt), moved.updated_at
    FROM moved, (VALUES {rows}) AS s(n, status, detail)
)
SELECT last_seq, updated_at, attempt FROM moved
"""


async def advance(
    pg: AsyncConnection[Any],
    order_id: uuid.UUID,
    *,
    expected: Status,
    expected_seq: int,
    new: Status,
    detail: dict[str, Any],
    raise_attempt: int | None = None,
    **columns: Any,
) -> OrderEvent | None:
    """Move the order from (``expected``, ``expected_seq``) to ``new`` and append the event.

    One statement, so one round trip, and atomic even in autocommit: the status moves with its event.
    ``columns`` are set on the order; ``raise_attempt`` raises its attempt to at least that. None when
    the order is no longer where the caller saw it (another worker holds it): nothing written.
    """
    events = await advance_through(
        pg,
        order_id,
        expected=expected,
        expected_seq=expected_seq,
        steps=[(new, detail)],
        raise_attempt=raise_attempt,
        **columns,
    )
    return None if events is None else events[0]


async def advance_through(
    pg: AsyncConnection[Any],
    order_id: uuid.UUID,
    *,
    expected: Status,
    expected_seq: int,
    steps: Sequence[tuple[Status, dict[str, Any]]],
    raise_attempt: int | None = None,
    **columns: Any,
) -> list[OrderEvent] | None:
    """Move the order from (``expected``, ``expected_seq``) through each of ``steps`` (status, detail),
    appending one event per step with the seqs that follow, in one statement.

    Every hop must be in the transition table. The order ends in the last step's status; its events all
    commit with it or none does. ``columns`` and ``raise_attempt`` as for `advance`. None when the order
    is no longer where the caller saw it (another worker holds it): nothing written.
    """
    if not steps:
        raise ValueError("advance_through needs at least one step")
    current = expected
    drafts: list[OrderEvent] = []
    stored: list[Jsonb] = []
    for status, detail in steps:
        ensure_legal(current, status)
        draft, dumped = _draft(order_id, status, detail)
        drafts.append(draft)
        stored.append(dumped)
        current = status
    names = tuple(sorted(columns))
    params: dict[str, Any] = {
        "id": order_id,
        "new": current.value,
        "expected": expected.value,
        "expected_seq": expected_seq,
        "raise_attempt": raise_attempt,
    }
    for k, ((status, _), kept) in enumerate(zip(steps, stored, strict=True), start=1):
        params[f"status_{k}"] = status.value
        params[f"detail_{k}"] = kept
    params.update(
        (name, Jsonb(value, dumps=orjson.dumps) if isinstance(value, dict) else value)
        for name, value in columns.items()
    )
    sql = _advance_sql(names, raise_attempt=raise_attempt is not None, steps=len(steps))
    cur = await pg.execute(sql, params, prepare=True)
    row = await cur.fetchone()
    if row is None:
        return None
    last_seq, at, attempt = row
    first = last_seq - len(steps) + 1
    return [
        draft.model_copy(update={"seq": first + k, "at": at, "attempt": attempt})
        for k, draft in enumerate(drafts)
    ]


_EXECUTION = "SELECT amount_out FROM executions WHERE order_id = %(id)s"


async def find_execution(pg: AsyncConnection[Any], order_id: uuid.UUID) -> Decimal | None:
    """What the order's swap paid, if it landed."""
    cur = await pg.execute(_EXECUTION, {"id": order_id}, prepare=True)
    row = await cur.fetchone()
    return None if row is None else Decimal(row[0])


_LOCK_ORDERS = """
SELECT id, status, last_seq FROM orders WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE
"""


async def lock_orders(
    pg: AsyncConnection[Any], order_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[str, int]]:
    """Lock the orders' rows until the transaction ends; each one's (status, last_seq) as locked."""
    cur = await pg.execute(_LOCK_ORDERS, {"ids": order_ids}, prepare=True)
    return {order_id: (status, last_seq) for order_id, status, last_seq in await cur.fetchall()}


# Each order moves from (submitted, expected seq) to confirmed with its event; the ledger entries and the
# pools are written only for the orders that moved.
_CONFIRM = """
WITH input AS (
    SELECT * FROM unnest(
        %(ids)s::uuid[], %(seqs)s::int[], %(amounts)s::numeric[], %(prices)s::numeric[], %(details)s::jsonb[]
    ) AS i(id, expected_seq, amount_out, executed_price, detail)
), moved AS (
    UPDATE orders o
    SET status = 'confirmed', last_seq = o.last_seq + 1, updated_at = clock_timestamp(),
        amount_out = i.amount_out, executed_price = i.executed_price
    FROM input i
    WHERE o.id = i.id AND o.status = 'submitted' AND o.last_seq = i.expected_seq
    RETURNING o.id, o.last_seq, o.updated_at, o.attempt, i.detail
), appended AS (
    INSERT INTO order_events (order_id, seq, status, detail, created_at)
    SELECT id, last_seq, 'confirmed', detail || jsonb_build_object('attempt', attempt), updated_at
    FROM moved
), ledger AS (
    INSERT INTO executions (order_id, signature, venue, amount_in, amount_out, slot)
    SELECT l.* FROM unnest(
        %(l_ids)s::uuid[], %(l_signatures)s::text[], %(l_venues)s::text[], %(l_in)s::numeric[],
        %(l_out)s::numeric[], %(l_slots)s::bigint[]
    ) AS l(order_id, signature, venue, amount_in, amount_out, slot)
    WHERE l.order_id IN (SELECT id FROM moved)
    ON CONFLICT (order_id) DO NOTHING
){pooled}
SELECT id, last_seq, updated_at, attempt FROM moved
"""
_POOLED = """, pooled AS (
    UPDATE pools SET state = %(pools_after)s, synced_at = %(synced_at)s, version = version + 1
    WHERE pair = %(pair)s AND EXISTS (SELECT FROM moved)
)"""
_CONFIRM_ONLY = _CONFIRM.format(pooled="")
_CONFIRM_AND_SWAP = _CONFIRM.format(pooled=_POOLED)


async def confirm(
    pg: AsyncConnection[Any],
    confirmations: list[Confirmation],
    *,
    pair: str,
    pools_after: PairPools | None,
    synced_at: int,
) -> dict[uuid.UUID, OrderEvent]:
    """Confirm the orders in one statement: their events, the swaps' ledger entries and the pair's pools
    after them (``pools_after``, None when no swap is new). Returns the `confirmed` event of each order
    that moved; one that did not (another worker holds it) gets nothing written.
    """
    ensure_legal(Status.SUBMITTED, Status.CONFIRMED)
    drafts: dict[uuid.UUID, OrderEvent] = {}
    details = []
    for c in confirmations:
        detail = {"txHash": c.signature, "executedPrice": c.executed_price, "amountOut": c.amount_out}
        drafts[c.order_id], stored = _draft(c.order_id, Status.CONFIRMED, detail)
        details.append(stored)
    swaps = [(c, c.ledger) for c in confirmations if c.ledger is not None]
    params: dict[str, Any] = {
        "ids": [c.order_id for c in confirmations],
        "seqs": [c.expected_seq for c in confirmations],
        "amounts": [c.amount_out for c in confirmations],
        "prices": [c.executed_price for c in confirmations],
        "details": details,
        "l_ids": [c.order_id for c, _ in swaps],
        "l_signatures": [c.signature for c, _ in swaps],
        "l_venues": [ledger.venue for _, ledger in swaps],
        "l_in": [ledger.amount_in for _, ledger in swaps],
        "l_out": [c.amount_out for c, _ in swaps],
        "l_slots": [ledger.slot for _, ledger in swaps],
    }
    if pools_after is not None:
        params.update(pair=pair, pools_after=Jsonb(dump(pools_after)), synced_at=synced_at)
    sql = _CONFIRM_AND_SWAP if pools_after is not None else _CONFIRM_ONLY
    cur = await pg.execute(sql, params, prepare=True)
    return {
        order_id: drafts[order_id].model_copy(update={"seq": seq, "at": at, "attempt": attempt})
        for order_id, seq, at, attempt in await cur.fetchall()
    }
