"""What the notifier reads from Postgres: orders' events after a seq, for a client that may see them.

Every subscription and every gap runs one of these, so they are SQL text on a connection of the
notifier's psycopg pool (`orders_shared.db.create_pool`): prepared, one autocommit round trip each. The
follows of a subscribe, and a socket's resync, read all their orders in one query.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import tuple_row

from orders_shared.contracts import OrderEvent

# The order row decides whether the client may see it; the join brings its events in the same trip. One
# query answers many follows: each (order, after) pair is numbered, and its rows come back under that number.
_SNAPSHOTS = """
SELECT f.n, o.status, o.last_seq, e.seq, e.status, e.created_at, e.detail
FROM unnest(%(ids)s::uuid[], %(afters)s::int[]) WITH ORDINALITY AS f(id, after, n)
JOIN orders o ON o.id = f.id AND o.client = %(client)s
LEFT JOIN order_events e ON e.order_id = f.id AND e.seq > f.after
ORDER BY f.n, e.seq
"""

_EVENTS_AFTER = """
SELECT f.n, e.seq, e.status, e.created_at, e.detail
FROM unnest(%(ids)s::uuid[], %(afters)s::int[]) WITH ORDINALITY AS f(id, after, n)
JOIN order_events e ON e.order_id = f.id AND e.seq > f.after
ORDER BY f.n, e.seq
"""

Snapshot = tuple[str, int, list[OrderEvent]]


async def read_snapshots(
    pg: AsyncConnection[Any], follows: list[tuple[uuid.UUID, int]], client: str
) -> list[Snapshot | None]:
    """For each (order, after seq) of ``follows``, in their order: the order's status, last seq and events
    after that seq; None where ``client`` has no such order."""
    async with pg.cursor(row_factory=tuple_row) as cur:
        await cur.execute(
            _SNAPSHOTS,
            {
                "ids": [order_id for order_id, _ in follows],
                "afters": [a for _, a in follows],
                "client": client,
            },
            prepare=True,
        )
        rows = await cur.fetchall()
    found: list[Snapshot | None] = [None] * len(follows)
    for n, status, last_seq, seq, event_status, at, detail in rows:
        order_id = follows[n - 1][0]
        snapshot = found[n - 1]
        if snapshot is None:
            snapshot = found[n - 1] = (status, last_seq, [])
        if seq is not None:
            snapshot[2].append(OrderEvent.from_row(order_id, seq, event_status, at, detail))
    return found


async def read_events(pg: AsyncConnection[Any], order_id: uuid.UUID, after_seq: int) -> list[OrderEvent]:
    """The order's events after ``after_seq``, in seq order."""
    (events,) = await read_events_after(pg, [(order_id, after_seq)])
    return events


async def read_events_after(
    pg: AsyncConnection[Any], wanted: list[tuple[uuid.UUID, int]]
) -> list[list[OrderEvent]]:
    """For each (order, after seq) of ``wanted``, in their order: its events after that seq, in one query."""
    async with pg.cursor(row_factory=tuple_row) as cur:
        await cur.execute(
            _EVENTS_AFTER,
            {"ids": [i for i, _ in wanted], "afters": [a for _, a in wanted]},
            prepare=True,
        )
        rows = await cur.fetchall()
    found: list[list[OrderEvent]] = [[] for _ in wanted]
    for n, seq, status, at, detail in rows:
        found[n - 1].append(OrderEvent.from_row(wanted[n - 1][0], seq, status, at, detail))
    return found
