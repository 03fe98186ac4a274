"""SQL of the api: insert orders with their first event, list and page them. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orders_shared.models import events_table, orders_table
from orders_shared.status import Status


async def insert_order(
    conn: AsyncConnection,
    *,
    order_id: uuid.UUID,
    client: str,
    token_in: str,
    token_out: str,
    amount_in: Decimal,
    slippage_bps: int,
) -> datetime:
    """Insert a pending order and its event #1; returns the commit timestamp they share."""
    created_at: datetime = (
        await conn.execute(
            sa.insert(orders_table)
            .values(
                id=order_id,
                client=client,
                type="market",
                token_in=token_in,
                token_out=token_out,
                amount_in=amount_in,
                slippage_bps=slippage_bps,
                status=Status.PENDING.value,
                attempt=0,
                last_seq=1,
            )
            .returning(orders_table.c.created_at)
        )
    ).scalar_one()
    await conn.execute(
        sa.insert(events_table).values(
            order_id=order_id, seq=1, status=Status.PENDING.value, detail={}, created_at=created_at
        )
    )
    return created_at


async def list_orders(
    conn: AsyncConnection,
    *,
    client: str,
    status: Status | None,
    before: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[sa.Row[tuple[object, ...]]]:
    """The client's orders, newest first, strictly older than the ``before`` cursor."""
    query = sa.select(orders_table).where(orders_table.c.client == client)
    if status is not None:
        query = query.where(orders_table.c.status == status.value)
    if before is not None:
        query = query.where(sa.tuple_(orders_table.c.created_at, orders_table.c.id) < sa.tuple_(*before))
    query = query.order_by(orders_table.c.created_at.desc(), orders_table.c.id.desc()).limit(limit)
    return (await conn.execute(query)).all()
