"""What the notifier reads from Postgres: an order's events after a seq, for a client that may see them.

Every subscription and every gap runs one of these, so they are SQL text on a connection of the
notifier's psycopg pool (`orders_shared.db.create_pool`): prepared, one autocommit round trip each.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import tuple_row

from orders_shared.contracts import OrderEvent

# The order row decides whether the client may see it; the join brings its events in the same trip.
_SNAPSHOT = """
SELECT o.status, o.last_seq, e.seq, e.status, e.created_at, e.detail
FROM orders o
LEFT JOIN order_events e ON e.order_id = o.id AND e.seq > %(after)s
WHERE o.id = %(id)s AND o.client = %(client)s
ORDER BY e.seq
"""

_EVENTS = """
SELECT seq, status, created_at, detail FROM order_events
WHERE order_id = %(id)s AND seq > %(after)s
ORDER BY seq
"""


async def read_snapshot(
    pg: AsyncConnection[Any], order_id: uuid.UUID, client: str, after_seq: int
) -> tuple[str, int, list[OrderEvent]] | None:
    """The order's status, last seq and events after ``after_seq``; None if ``client`` has no such order."""
    async with pg.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_SNAPSHOT, {"id": order_id, "client": client, "after": after_seq}, prepare=True)
        rows = await cur.fetchall()
    if not rows:
        return None
    status, last_seq = rows[0][0], rows[0][1]
    events = [
        OrderEvent.from_row(order_id, seq, event_status, at, detail)
        for _, _, seq, event_status, at, detail in rows
        if seq is not None
    ]
    return status, last_seq, events


async def read_events(pg: AsyncConnection[Any], order_id: uuid.UUID, after_seq: int) -> list[OrderEvent]:
    """The order's events after ``after_seq``, in seq order."""
    async with pg.cursor(row_factory=tuple_row) as cur:
        await cur.execute(_EVENTS, {"id": order_id, "after": after_seq}, prepare=True)
        rows = await cur.fetchall()
    return [OrderEvent.from_row(order_id, seq, status, at, detail) for seq, status, at, detail in rows]
