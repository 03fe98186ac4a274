"""SQL of the worker: compare-and-set transitions with their events, and the swap ledger. Never commits."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orders_shared.contracts import OrderEvent
from orders_shared.models import events_table, executions_table, orders_table
from orders_shared.status import Status, ensure_legal


async def advance(
    conn: AsyncConnection,
    order_id: uuid.UUID,
    *,
    expected: Status,
    expected_seq: int,
    new: Status,
    detail: dict[str, Any],
    **columns: Any,
) -> OrderEvent | None:
    """Move the order from (``expected``, ``expected_seq``) to ``new`` and append the event.

    None when the order is no longer where the caller saw it: another worker holds it.
    """
    ensure_legal(expected, new)
    row = (
        await conn.execute(
            sa.update(orders_table)
            .where(
                orders_table.c.id == order_id,
                orders_table.c.status == expected.value,
                orders_table.c.last_seq == expected_seq,
            )
            .values(
                status=new.value,
                last_seq=orders_table.c.last_seq + 1,
                # The moment of the step, not the transaction's start (which may include a wait for a lock).
                updated_at=sa.func.clock_timestamp(),
                **columns,
            )
            .returning(orders_table.c.last_seq, orders_table.c.updated_at, orders_table.c.attempt)
        )
    ).first()
    if row is None:
        return None
    event = OrderEvent.model_validate(
        {
            **detail,
            "orderId": order_id,
            "seq": row.last_seq,
            "status": new,
            "at": row.updated_at,
            "attempt": row.attempt,
        }
    )
    await conn.execute(
        sa.insert(events_table).values(
            order_id=order_id,
            seq=event.seq,
            status=new.value,
            detail=event.detail(),
            created_at=row.updated_at,
        )
    )
    return event


async def record_execution(
    conn: AsyncConnection,
    *,
    order_id: uuid.UUID,
    signature: str,
    venue: str,
    amount_in: Decimal,
    amount_out: Decimal,
    slot: int,
) -> bool:
    """Write the swap to the ledger; False if the order already has one (nothing is written)."""
    result = await conn.execute(
        insert(executions_table)
        .values(
            order_id=order_id,
            signature=signature,
            venue=venue,
            amount_in=amount_in,
            amount_out=amount_out,
            slot=slot,
        )
        .on_conflict_do_nothing(index_elements=[executions_table.c.order_id])
        .returning(executions_table.c.order_id)
    )
    return result.first() is not None


async def find_execution(conn: AsyncConnection, order_id: uuid.UUID) -> sa.Row[Any] | None:
    """The ledger entry of the order's swap, if it landed."""
    return (
        await conn.execute(sa.select(executions_table).where(executions_table.c.order_id == order_id))
    ).first()
