"""SQL of the api: find orders, list and page them (`ingest` inserts them). Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orders_shared.models import orders_table
from orders_shared.status import Status


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
