"""SQL of the notifier: the snapshot a follow starts from. Never commits.

Every subscription runs it, so it is SQL text on a connection of the notifier's `Database`: prepared, one
autocommit round trip. The follows of a subscribe are read together, in one query. The events a socket
missed (a gap, a resync) are read with `orders_shared.repository.events_after`, as the api reads them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.rows import class_row

from orders_shared.contracts import OrderEvent
from orders_shared.db import Conn
from orders_shared.status import Status

# The order row decides whether the client may see it; the join brings its events in the same trip. One
# query answers many follows: each (order, after) pair is numbered, and its rows come back under that number.
_SNAPSHOTS = """
SELECT f.n, o.status AS order_status, o.last_seq, e.seq, e.status, e.created_at AS at, e.detail
FROM unnest(%(ids)s::uuid[], %(afters)s::int[]) WITH ORDINALITY AS f(id, after, n)
JOIN orders o ON o.id = f.id AND o.client = %(client)s
LEFT JOIN order_events e ON e.order_id = f.id AND e.seq > f.after
ORDER BY f.n, e.seq
"""


@dataclass(frozen=True, slots=True)
class _SnapshotRow:
    """One row of `_SNAPSHOTS`: the n-th follow's order, and one of its events (none: all NULL)."""

    n: int
    order_status: str
    last_seq: int
    seq: int | None
    status: str | None
    at: datetime | None
    detail: dict[str, Any] | None

    def event(self, order_id: uuid.UUID) -> OrderEvent | None:
        """The row's event; None on the row of an order with no events after the seq asked for."""
        if self.seq is None or self.status is None or self.at is None or self.detail is None:
            return None
        return OrderEvent.from_row(order_id, self.seq, self.status, self.at, self.detail)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An order as a follow starts from it: where it is now, and its events after the seq asked for."""

    status: Status
    last_seq: int
    events: list[OrderEvent] = field(default_factory=list)


async def read_snapshots(
    conn: Conn, follows: Sequence[tuple[uuid.UUID, int]], client: str
) -> list[Snapshot | None]:
    """For each (order, after seq) of ``follows``, in their order: its snapshot; None where ``client``
    has no such order."""
    async with conn.cursor(row_factory=class_row(_SnapshotRow)) as cur:
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
    for row in rows:
        snapshot = found[row.n - 1]
        if snapshot is None:
            snapshot = found[row.n - 1] = Snapshot(Status(row.order_status), row.last_seq)
        event = row.event(follows[row.n - 1][0])
        if event is not None:
            snapshot.events.append(event)
    return found
