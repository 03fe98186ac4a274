"""Reconciliation of orders against their events and the executions ledger, straight from Postgres."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.models import events_table, executions_table, orders_table


@dataclass
class Reconciliation:
    """What the database says about a set of orders; every list must be empty for a clean run."""

    by_status: Counter[str] = field(default_factory=Counter)
    seq_gaps: list[uuid.UUID] = field(default_factory=list)
    executed_twice: list[uuid.UUID] = field(default_factory=list)
    confirmed_without_execution: list[uuid.UUID] = field(default_factory=list)
    executed_but_not_confirmed: list[uuid.UUID] = field(default_factory=list)
    missing: list[uuid.UUID] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No gap, no double execution, no disagreement, nothing missing."""
        return not (
            self.seq_gaps
            or self.executed_twice
            or self.confirmed_without_execution
            or self.executed_but_not_confirmed
            or self.missing
        )


async def reconcile(engine: AsyncEngine, order_ids: Sequence[uuid.UUID]) -> Reconciliation:
    """Check every order: seqs 1..last_seq each once, one execution iff confirmed."""
    result = Reconciliation()
    ids = list(order_ids)
    async with engine.connect() as conn:
        orders = {
            r.id: r
            for r in await conn.execute(
                sa.select(orders_table.c.id, orders_table.c.status, orders_table.c.last_seq).where(
                    orders_table.c.id.in_(ids)
                )
            )
        }
        seqs: dict[uuid.UUID, list[int]] = {}
        for r in await conn.execute(
            sa.select(events_table.c.order_id, events_table.c.seq)
            .where(events_table.c.order_id.in_(ids))
            .order_by(events_table.c.order_id, events_table.c.seq)
        ):
            seqs.setdefault(r.order_id, []).append(r.seq)
        executions = Counter(
            r.order_id
            for r in await conn.execute(
                sa.select(executions_table.c.order_id).where(executions_table.c.order_id.in_(ids))
            )
        )
    for order_id in ids:
        order = orders.get(order_id)
        if order is None:
            result.missing.append(order_id)
            continue
        result.by_status[order.status] += 1
        if seqs.get(order_id) != list(range(1, order.last_seq + 1)):
            result.seq_gaps.append(order_id)
        if executions[order_id] > 1:
            result.executed_twice.append(order_id)
        if order.status == "confirmed" and executions[order_id] != 1:
            result.confirmed_without_execution.append(order_id)
        if order.status != "confirmed" and executions[order_id]:
            result.executed_but_not_confirmed.append(order_id)
    return result


async def assert_all_confirmed(engine: AsyncEngine, order_ids: Sequence[uuid.UUID]) -> None:
    """Reconcile ``order_ids``: the run is clean and every one of them is confirmed."""
    result = await reconcile(engine, order_ids)
    assert result.clean, result
    assert result.by_status == {"confirmed": len(order_ids)}, result.by_status
