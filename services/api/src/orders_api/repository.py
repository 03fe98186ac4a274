"""SQL of the api: insert orders with their first event, list and page them. Never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
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
    idempotency_key: str | None = None,
    request_hash: str | None = None,
) -> bool:
    """Insert a pending order and its event #1; False (and nothing written) if the key is taken.

    The unique (client, idempotency_key) constraint decides a race between duplicates, not a read.
    """
    created_at = (
        await conn.execute(
            insert(orders_table)
            .values(
                id=order_id,
                client=client,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                type="market",
                token_in=token_in,
                token_out=token_out,
                amount_in=amount_in,
                slippage_bps=slippage_bps,
                status=Status.PENDING.value,
                attempt=0,
                last_seq=1,
            )
            .on_conflict_do_nothing(constraint="uq_orders_client_idempotency_key")
            .returning(orders_table.c.created_at)
        )
    ).scalar_one_or_none()
    if created_at is None:
        return False
    await conn.execute(
        sa.insert(events_table).values(
            order_id=order_id, seq=1, status=Status.PENDING.value, detail={}, created_at=created_at
        )
    )
    return True


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
