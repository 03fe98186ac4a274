"""SQL of the worker: compare-and-set transitions with their events, and the swap ledger. Never commits.

Every order runs these statements several times, so they are SQL text on a connection of the worker's
`Database`: prepared, never compiled. Connections are in autocommit: a one-statement step needs no
BEGIN/COMMIT; `confirm` and `lock_orders` run inside a transaction. What the worker reads as the api does
(an order, the pools) is in `orders_shared.repository`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from orders_shared.contracts import OrderEvent
from orders_shared.db import Conn
from orders_shared.pools import dump
from orders_shared.repository import draft_event, expire, expiring
from orders_shared.status import Status, ensure_legal
from orders_venues import Listing, PairPools


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


@dataclass(frozen=True, slots=True)
class Moved:
    """An order a compare-and-set moved: its last seq, when, and its attempt, after the update."""

    id: uuid.UUID
    last_seq: int
    updated_at: datetime
    attempt: int

    def stamp(self, draft: OrderEvent, seq: int) -> OrderEvent:
        """``draft`` as written: the seq it got, the time and attempt of the update."""
        return draft.model_copy(update={"seq": seq, "at": self.updated_at, "attempt": self.attempt})


@dataclass(frozen=True, slots=True)
class Locked:
    """An order's row as `lock_orders` locked it."""

    id: uuid.UUID
    status: str
    last_seq: int


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
    RETURNING id, last_seq, updated_at, attempt
), appended AS (
    INSERT INTO order_events (order_id, seq, status, detail, created_at)
    SELECT %(id)s, moved.last_seq - {steps} + s.n, s.status,
        s.detail || jsonb_build_object('attempt', moved.attempt), moved.updated_at
    FROM moved, (VALUES {rows}) AS s(n, status, detail)
)
SELECT id, last_seq, updated_at, attempt FROM moved
"""


async def advance(
    conn: Conn,
    order_id: uuid.UUID,
    *,
    expected: Status,
    expected_seq: int,
    new: Status,
    detail: dict[str, Any],
    raise_attempt: int | None = None,
    **columns: object,
) -> OrderEvent | None:
    """Move the order from (``expected``, ``expected_seq``) to ``new`` and append the event.

    One statement, so one round trip, and atomic even in autocommit: the status moves with its event.
    ``columns`` are set on the order; ``raise_attempt`` raises its attempt to at least that. None when
    the order is no longer where the caller saw it (another worker holds it): nothing written.
    """
    events = await advance_through(
        conn,
        order_id,
        expected=expected,
        expected_seq=expected_seq,
        steps=[(new, detail)],
        raise_attempt=raise_attempt,
        **columns,
    )
    return None if events is None else events[0]


async def advance_through(
    conn: Conn,
    order_id: uuid.UUID,
    *,
    expected: Status,
    expected_seq: int,
    steps: Sequence[tuple[Status, dict[str, Any]]],
    raise_attempt: int | None = None,
    **columns: object,
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
        draft, dumped = draft_event(order_id, status, detail)
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
    async with conn.cursor(row_factory=class_row(Moved)) as cur:
        await cur.execute(sql, params, prepare=True)
        moved = await cur.fetchone()
    if moved is None:
        return None
    first = moved.last_seq - len(steps) + 1
    return [moved.stamp(draft, first + k) for k, draft in enumerate(drafts)]


_EXECUTION = "SELECT amount_out FROM executions WHERE order_id = %(id)s"


async def find_execution(conn: Conn, order_id: uuid.UUID) -> Decimal | None:
    """What the order's swap paid, if it landed."""
    cur = await conn.execute(_EXECUTION, {"id": order_id}, prepare=True)
    row = await cur.fetchone()
    return None if row is None else Decimal(row[0])


_LOCK_ORDERS = """
SELECT id, status, last_seq FROM orders WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE
"""


async def lock_orders(conn: Conn, order_ids: list[uuid.UUID]) -> dict[uuid.UUID, Locked]:
    """Lock the orders' rows until the transaction ends; each one's status and last seq as locked."""
    async with conn.cursor(row_factory=class_row(Locked)) as cur:
        await cur.execute(_LOCK_ORDERS, {"ids": order_ids}, prepare=True)
        return {locked.id: locked for locked in await cur.fetchall()}


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
POOLS_CHANGED = "orders_pools_changed"
# The pools write also tells every listener (the pair's limit trigger) which pair changed: pg_notify in the
# same transaction, so the notice arrives once the new pools are committed, and never for a rolled-back one.
_POOLED = f""", pooled AS (
    UPDATE pools SET state = %(pools_after)s, synced_at = %(synced_at)s, version = version + 1
    WHERE pair = %(pair)s AND EXISTS (SELECT FROM moved)
    RETURNING pg_notify('{POOLS_CHANGED}', pair)
)"""
_CONFIRM_ONLY = _CONFIRM.format(pooled="")
_CONFIRM_AND_SWAP = _CONFIRM.format(pooled=_POOLED)


async def confirm(
    conn: Conn,
    confirmations: list[Confirmation],
    *,
    pair: str,
    pools_after: PairPools | None,
    synced_at: int,
    launched: Listing | None = None,
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
        drafts[c.order_id], stored = draft_event(c.order_id, Status.CONFIRMED, detail)
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
        params.update(pair=pair, pools_after=Jsonb(dump(pools_after, launched)), synced_at=synced_at)
    sql = _CONFIRM_AND_SWAP if pools_after is not None else _CONFIRM_ONLY
    async with conn.cursor(row_factory=class_row(Moved)) as cur:
        await cur.execute(sql, params, prepare=True)
        return {moved.id: moved.stamp(drafts[moved.id], moved.last_seq) for moved in await cur.fetchall()}


# The limit-order trigger. Each pair has one evaluator across the workers: the holder of this session lock,
# taken on a connection the evaluator keeps; when the holder dies its connection closes and the lock frees.
_TRY_LEASE = "SELECT pg_try_advisory_lock(hashtext(%(key)s))"


async def listen_pools(conn: Conn) -> None:
    """Have ``conn`` receive a notice (its payload: the pair) whenever a pair's pools row changes."""
    await conn.execute(f"LISTEN {POOLS_CHANGED}")


_TRADED_PAIRS = "SELECT pair FROM pools ORDER BY pair"


async def traded_pairs(conn: Conn) -> list[str]:
    """Every pair that has pools, as `BASE/QUOTE`: the pairs the trigger evaluates (launches add some)."""
    cur = await conn.execute(_TRADED_PAIRS, prepare=True)
    return [pair for (pair,) in await cur.fetchall()]


async def try_lease(conn: Conn, key: str) -> bool:
    """Take the session advisory lock named ``key`` if nobody holds it; True if this session holds it."""
    cur = await conn.execute(_TRY_LEASE, {"key": key})
    row = await cur.fetchone()
    return bool(row and row[0])


# A pair's open limit orders past their expiry (sniper orders expire in the launch pass).
_EXPIRE_DUE = expiring(
    "type = 'limit' AND token_in = ANY(%(tokens)s::text[]) AND token_out = ANY(%(tokens)s::text[])"
)


async def expire_due(conn: Conn, tokens: Sequence[str], *, limit: int) -> list[OrderEvent]:
    """Expire up to ``limit`` open limit orders of the pair of ``tokens`` whose time is up; their events."""
    return await expire(conn, _EXPIRE_DUE, {"tokens": list(tokens), "limit": limit})


# Seconds until the earliest open limit order expires (a look-up at the head of ix_orders_open_expires).
_NEXT_EXPIRY = """
SELECT extract(epoch FROM min(expires_at) - clock_timestamp())::float8 FROM orders
WHERE status = 'open' AND type = 'limit' AND expires_at > now()
"""


async def next_expiry_in(conn: Conn) -> float | None:
    """Seconds until the earliest open limit order (of any pair) expires; None when none waits."""
    async with conn.cursor() as cur:
        await cur.execute(_NEXT_EXPIRY, prepare=True)
        row = await cur.fetchone()
    return None if row is None or row[0] is None else max(0.0, float(row[0]))


@dataclass(frozen=True, slots=True)
class Waiting:
    """An open limit order, as the trigger prices it."""

    id: uuid.UUID
    amount_in: Decimal
    slippage_bps: int
    limit_price: Decimal


# The open orders selling ``token_in`` for ``token_out`` that a price could satisfy, cheapest first: a range
# scan of ix_orders_open_pair_price, so the cost grows with the orders returned, not the orders waiting.
_WAITING_WITHIN = """
SELECT id, amount_in, slippage_bps, limit_price FROM orders
WHERE status = 'open' AND token_in = %(token_in)s AND token_out = %(token_out)s
  AND limit_price <= %(price)s AND expires_at > now()
ORDER BY limit_price
LIMIT %(limit)s
"""


async def waiting_within(
    conn: Conn, token_in: str, token_out: str, price: Decimal, *, limit: int
) -> list[Waiting]:
    """Open orders of that direction with a limit price at most ``price``, lowest first."""
    params = {"token_in": token_in, "token_out": token_out, "price": price, "limit": limit}
    async with conn.cursor(row_factory=class_row(Waiting)) as cur:
        await cur.execute(_WAITING_WITHIN, params, prepare=True)
        return await cur.fetchall()
