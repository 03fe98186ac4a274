"""Reads of the shared schema that more than one service makes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orders_shared.contracts import OrderEvent
from orders_shared.models import events_table, orders_table


async def fetch_order(
    conn: AsyncConnection, order_id: uuid.UUID, client: str | None = None
) -> sa.Row[tuple[object, ...]] | None:
    """The order's row; with ``client``, only if that client owns it."""
    query = sa.select(orders_table).where(orders_table.c.id == order_id)
    if client is not None:
        query = query.where(orders_table.c.client == client)
    return (await conn.execute(query)).first()


async def fetch_events(
    conn: AsyncConnection, order_id: uuid.UUID, after_seq: int = 0
) -> Sequence[OrderEvent]:
    """The order's events after ``after_seq``, in seq order."""
    rows = await conn.execute(
        sa.select(events_table.c.seq, events_table.c.status, events_table.c.created_at, events_table.c.detail)
        .where(events_table.c.order_id == order_id, events_table.c.seq > after_seq)
        .order_by(events_table.c.seq)
    )
    return [OrderEvent.from_row(order_id, r.seq, r.status, r.created_at, r.detail) for r in rows]
