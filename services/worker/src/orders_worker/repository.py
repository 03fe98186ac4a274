"""SQL of the worker: compare-and-set transitions with their events, and the swap ledger. Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from orders_shared.contracts import OrderEvent
from orders_shared.models import events_table, executions_table, orders_table
from orders_shared.pools import pools_table
from orders_shared.status import Status, ensure_legal

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Swap:
    """A swap that lands with the step confirming it: the pair's pools after it, and its ledger entry."""

    pair: str
    pools_after: dict[str, Any]
    synced_at: int
    signature: str
    venue: str
    amount_in: Decimal
    amount_out: Decimal
    slot: int


async def advance(
    conn: AsyncConnection,
    order_id: uuid.UUID,
    *,
    expected: Status,
    expected_seq: int,
    new: Status,
    detail: dict[str, Any],
    swap: Swap | None = None,
    **columns: Any,
) -> OrderEvent | None:
    """Move the order from (``expected``, ``expected_seq``) to ``new`` and append the event.

    With ``swap``, the pools and the ledger are written in the same statement, and only if the order
    moved. None when the order is no longer where the caller saw it: another worker holds it, and
    nothing was written.
    """
    ensure_legal(expected, new)
    # Validated now (the seq, time and attempt are the database's, filled in below), so the detail stored
    # is exactly what subscribers will be sent.
    draft = OrderEvent.model_validate({**detail, "orderId": order_id, "seq": 1, "status": new, "at": _EPOCH})
    stored = draft.detail()
    stored.pop("attempt", None)
    moved = (
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
        .cte("moved")
    )
    appended = sa.insert(events_table).from_select(
        ["order_id", "seq", "status", "detail", "created_at"],
        sa.select(
            sa.literal(order_id, sa.Uuid),
            moved.c.last_seq,
            sa.literal(new.value),
            sa.literal(stored, JSONB).op("||")(sa.func.jsonb_build_object("attempt", moved.c.attempt)),
            moved.c.updated_at,
        ),
    )
    # One statement, so one round trip and atomic even in autocommit: the status moves with its event.
    query = sa.select(moved.c.last_seq, moved.c.updated_at, moved.c.attempt).add_cte(appended.cte("appended"))
    if swap is not None:
        query = query.add_cte(*_landing(order_id, swap, moved))
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return draft.model_copy(update={"seq": row.last_seq, "at": row.updated_at, "attempt": row.attempt})


def _landing(order_id: uuid.UUID, swap: Swap, moved: sa.CTE) -> tuple[sa.CTE, sa.CTE]:
    """The pools update and the ledger insert of ``swap``, each conditional on the order having moved."""
    held = sa.exists(sa.select(moved.c.last_seq))
    pooled = (
        sa.update(pools_table)
        .where(pools_table.c.pair == swap.pair, held)
        .values(state=swap.pools_after, synced_at=swap.synced_at)
        .cte("pooled")
    )
    ledger = (
        insert(executions_table)
        .from_select(
            ["order_id", "signature", "venue", "amount_in", "amount_out", "slot"],
            sa.select(
                sa.literal(order_id, sa.Uuid),
                sa.literal(swap.signature),
                sa.literal(swap.venue),
                sa.literal(swap.amount_in, sa.Numeric),
                sa.literal(swap.amount_out, sa.Numeric),
                sa.literal(swap.slot, sa.BigInteger),
            ).where(held),
        )
        .on_conflict_do_nothing(index_elements=[executions_table.c.order_id])
        .cte("ledger")
    )
    return pooled, ledger


async def find_execution(conn: AsyncConnection, order_id: uuid.UUID) -> sa.Row[Any] | None:
    """The ledger entry of the order's swap, if it landed."""
    return (
        await conn.execute(sa.select(executions_table).where(executions_table.c.order_id == order_id))
    ).first()
