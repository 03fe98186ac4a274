"""SQL of the api: find orders, list and page them (`ingest` inserts them). Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orders_shared.contracts import OrderEvent
from orders_shared.models import events_table, orders_table
from orders_shared.status import Status

# What Postgres being away raises (refused or lost connections, no free connection in time).
UNREACHABLE: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,
    OSError,
)
# What a client is told then.
UNREACHABLE_DETAIL = "the order store is unreachable; try again shortly"


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


async def find_by_idempotency_key(conn: AsyncConnection, client: str, key: str) -> sa.Row[Any, Any] | None:
    """The order a client created with ``key``, with the hash of the body it came with."""
    return (
        await conn.execute(
            sa.select(orders_table.c.id, orders_table.c.request_hash).where(
                orders_table.c.client == client, orders_table.c.idempotency_key == key
            )
        )
    ).first()


async def list_orders(
    conn: AsyncConnection,
    *,
    client: str,
    status: Status | None,
    before: tuple[Any, uuid.UUID] | None,
    limit: int,
) -> Sequence[sa.Row[Any]]:
    """The client's orders, newest first, strictly older than the ``before`` cursor."""
    query = sa.select(orders_table).where(orders_table.c.client == client)
    if status is not None:
        query = query.where(orders_table.c.status == status.value)
    if before is not None:
        query = query.where(sa.tuple_(orders_table.c.created_at, orders_table.c.id) < sa.tuple_(*before))
    query = query.order_by(orders_table.c.created_at.desc(), orders_table.c.id.desc()).limit(limit)
    return (await conn.execute(query)).all()
