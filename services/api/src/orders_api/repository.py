"""Every SQL statement the api runs of its own: store orders, stamp them published, claim the unpublished and
the stuck, look orders up by key and page them. Never commits (the caller's `Database` block decides).

SQL text run with psycopg; the statements that run per order (the group-commit INSERT and the publish
stamp) are prepared. Rows come back as frozen dataclasses. What other services run too (an order, its
events, the pools) is in `orders_shared.repository`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import psycopg
from psycopg.rows import class_row

from orders_shared.db import Conn
from orders_shared.repository import ORDER_COLUMNS, OrderRow, insert_waiting_order
from orders_shared.status import TERMINAL, Status

# What Postgres being away raises: refused or lost connections, no free connection in time (PoolTimeout
# is an OperationalError).
UNREACHABLE: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.InterfaceError, OSError)
# What a client is told then.
UNREACHABLE_DETAIL = "the order store is unreachable; try again shortly"
# What a row the INSERT refuses raises (a CHECK, a value out of a column's range).
REFUSED_ROW: tuple[type[Exception], ...] = (psycopg.IntegrityError, psycopg.DataError)


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A validated order, ready to be stored as `pending`."""

    order_id: uuid.UUID
    client: str
    token_in: str
    token_out: str
    amount_in: Decimal
    slippage_bps: int
    idempotency_key: str | None = None
    request_hash: str | None = None


@dataclass(frozen=True, slots=True)
class LimitTerms:
    """What a limit order waits for: its worst average price (tokenOut per tokenIn), and until when."""

    limit_price: Decimal
    expires_at: datetime


async def insert_limit_order(conn: Conn, order: NewOrder, terms: LimitTerms) -> bool:
    """Insert the limit order with its `pending` and `open` events; False if its Idempotency-Key was
    taken (nothing written)."""
    return await insert_waiting_order(
        conn, order, kind="limit", price=terms.limit_price, expires_at=terms.expires_at
    )


# One round trip for the whole batch. unnest keeps the request order, and clock_timestamp() gives each
# row its own created_at, so the outbox still publishes oldest first. A row whose (client,
# idempotency_key) exists already, or repeats one earlier in the batch, is skipped: not in RETURNING.
_INSERT_BATCH = """
WITH input AS (
    SELECT r.*, clock_timestamp() AS at
    FROM unnest(
        %(ids)s::uuid[], %(clients)s::text[], %(keys)s::text[], %(hashes)s::text[],
        %(tokens_in)s::text[], %(tokens_out)s::text[], %(amounts)s::numeric[], %(slippages)s::int[]
    ) AS r(id, client, idempotency_key, request_hash, token_in, token_out, amount_in, slippage_bps)
), created AS (
    INSERT INTO orders (
        id, client, idempotency_key, request_hash, type, token_in, token_out, amount_in, slippage_bps,
        status, attempt, last_seq, created_at, updated_at
    )
    SELECT id, client, idempotency_key, request_hash, 'market', token_in, token_out, amount_in,
           slippage_bps, 'pending', 0, 1, at, at
    FROM input
    ON CONFLICT ON CONSTRAINT uq_orders_client_idempotency_key DO NOTHING
    RETURNING id, created_at
), events AS (
    INSERT INTO order_events (order_id, seq, status, detail, created_at)
    SELECT id, 1, 'pending', '{}'::jsonb, created_at FROM created
)
SELECT id FROM created
"""


async def insert_orders(conn: Conn, orders: Sequence[NewOrder]) -> set[uuid.UUID]:
    """Insert ``orders`` with their event #1 in one statement; returns the ids actually created."""
    params = {
        "ids": [o.order_id for o in orders],
        "clients": [o.client for o in orders],
        "keys": [o.idempotency_key for o in orders],
        "hashes": [o.request_hash for o in orders],
        "tokens_in": [o.token_in for o in orders],
        "tokens_out": [o.token_out for o in orders],
        "amounts": [o.amount_in for o in orders],
        "slippages": [o.slippage_bps for o in orders],
    }
    cur = await conn.execute(_INSERT_BATCH, params, prepare=True)
    return {row[0] for row in await cur.fetchall()}


# One statement text whatever the batch's size (an IN list would be a new statement for every size). Not
# prepared: a prepared statement's generic plan, fixed after its fifth run, is a sequential scan when the
# table was small then (a fresh database), and it stays one as the table grows (18 ms a stamp at 150,000
# orders, against 1 ms planned each time).
_STAMP = "UPDATE orders SET enqueued_at = now() WHERE id = ANY(%(ids)s::uuid[])"


async def stamp(conn: Conn, order_ids: Sequence[uuid.UUID]) -> None:
    """Mark the orders published."""
    await conn.execute(_STAMP, {"ids": list(order_ids)})


_CLAIM_UNPUBLISHED = """
SELECT id FROM orders
WHERE enqueued_at IS NULL AND created_at < now() - make_interval(secs => %(older_than_s)s)
ORDER BY created_at
LIMIT %(limit)s
FOR UPDATE SKIP LOCKED
"""


async def claim_unpublished(conn: Conn, *, older_than_s: float, limit: int) -> list[uuid.UUID]:
    """The oldest unpublished orders committed over ``older_than_s`` ago, locked until the transaction
    ends; rows another transaction holds are skipped, so relays of several replicas share the work."""
    cur = await conn.execute(_CLAIM_UNPUBLISHED, {"older_than_s": older_than_s, "limit": limit})
    return [row[0] for row in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class StuckOrder:
    """An order the sweeper hands out again: where it was stuck."""

    id: uuid.UUID
    attempt: int
    last_seq: int


_TOUCH_STUCK = """
UPDATE orders SET updated_at = now()
WHERE id IN (
    SELECT id FROM orders
    WHERE status <> ALL(%(terminal)s::text[]) AND enqueued_at IS NOT NULL
      AND updated_at < now() - make_interval(secs => %(stuck_after_s)s)
    ORDER BY updated_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id, attempt, last_seq
"""


async def touch_stuck(conn: Conn, *, stuck_after_s: float, limit: int) -> list[StuckOrder]:
    """Unfinished, published orders without progress for ``stuck_after_s``, stamped now (which spaces the
    retries of one order); rows another transaction holds are skipped."""
    # A waiting limit order is not stuck: nothing moves it until its trigger fires it.
    idle = [s.value for s in TERMINAL] + [Status.OPEN.value]
    params = {"terminal": idle, "stuck_after_s": stuck_after_s, "limit": limit}
    async with conn.cursor(row_factory=class_row(StuckOrder)) as cur:
        await cur.execute(_TOUCH_STUCK, params)
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class KeyedOrder:
    """The order a client created with an Idempotency-Key, and the hash of the body it came with."""

    id: uuid.UUID
    request_hash: str | None


_BY_IDEMPOTENCY_KEY = (
    "SELECT id, request_hash FROM orders WHERE client = %(client)s AND idempotency_key = %(key)s"
)


async def find_by_idempotency_key(conn: Conn, client: str, key: str) -> KeyedOrder | None:
    """The order ``client`` created with ``key``, if any."""
    async with conn.cursor(row_factory=class_row(KeyedOrder)) as cur:
        await cur.execute(_BY_IDEMPOTENCY_KEY, {"client": client, "key": key})
        return await cur.fetchone()


# Not prepared: planned with each call's values, the filters left out (NULL) fold away and the index on
# (client, created_at) serves every form.
_LIST = f"""
SELECT {ORDER_COLUMNS} FROM orders
WHERE client = %(client)s
  AND (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(type)s::text IS NULL OR type = %(type)s::text)
  AND (%(before_at)s::timestamptz IS NULL
       OR (created_at, id) < (%(before_at)s::timestamptz, %(before_id)s::uuid))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s
"""


async def list_orders(
    conn: Conn,
    *,
    client: str,
    status: Status | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
    order_type: str | None = None,
) -> list[OrderRow]:
    """The client's orders (of ``order_type``, in ``status``, when given), newest first, strictly older
    than the ``before`` cursor."""
    params = {
        "client": client,
        "status": status.value if status is not None else None,
        "type": order_type,
        "before_at": before[0] if before is not None else None,
        "before_id": before[1] if before is not None else None,
        "limit": limit,
    }
    async with conn.cursor(row_factory=class_row(OrderRow)) as cur:
        await cur.execute(_LIST, params)
        return await cur.fetchall()


_POOL_PAIRS = "SELECT pair FROM pools ORDER BY pair"


async def pool_pairs(conn: Conn) -> list[str]:
    """Every pair that has pools, as ``BASE/QUOTE``: the seeded ones and those launches added since."""
    cur = await conn.execute(_POOL_PAIRS, prepare=True)
    return [row[0] for row in await cur.fetchall()]
