"""Orders put where a test needs them: inserted with the api's statement, moved on as a worker does."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_api.repository import LimitTerms, NewOrder, insert_limit_order, insert_orders
from orders_shared.db import Database
from orders_shared.models import orders_table
from orders_shared.status import Status
from orders_worker.repository import advance

TO_SUBMITTED = (Status.PENDING, Status.ROUTING, Status.BUILDING, Status.SUBMITTED)


def market_order(client: str, *, amount: str = "1.5", key: str | None = None) -> NewOrder:
    """A validated SOL → USDC order for the api's writer, not stored; ``key``: an Idempotency-Key."""
    return NewOrder(
        order_id=uuid.uuid4(),
        client=client,
        token_in="SOL",
        token_out="USDC",
        amount_in=Decimal(amount),
        slippage_bps=50,
        idempotency_key=key,
        request_hash="h" if key else None,
    )


async def open_limit_order(
    db: Database, client: str, price: str, expires_in: timedelta = timedelta(hours=1)
) -> uuid.UUID:
    """A limit order selling 0.5 SOL for USDC at ``price``, stored `open` with the api's statement."""
    order = market_order(client, amount="0.5")
    terms = LimitTerms(Decimal(price), datetime.now(UTC) + expires_in)
    async with db.connection() as conn:
        assert await insert_limit_order(conn, order, terms)
    return order.order_id


async def new_order(engine: AsyncEngine, client: str, amount_in: Decimal = Decimal("1.25")) -> uuid.UUID:
    """A pending SOL → USDC order of ``client`` with its event #1, that no running worker will take.

    The tests' services share this database: an order the api's outbox relay finds unpublished goes to
    their worker, which would race the test for it. Marked as published in the same transaction, it is
    the test's alone.
    """
    order_id = uuid.uuid4()
    async with engine.begin() as conn:
        # The api's statement runs on psycopg: this transaction's own driver connection.
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        await insert_orders(driver, [NewOrder(order_id, client, "SOL", "USDC", amount_in, slippage_bps=50)])
        await conn.execute(
            sa.update(orders_table).where(orders_table.c.id == order_id).values(enqueued_at=sa.func.now())
        )
    return order_id


async def to_submitted(db: Database, order_id: uuid.UUID) -> None:
    """Move a pending order to (submitted, 4), one compare-and-set step at a time."""
    async with db.connection() as pg:
        for seq, (expected, new) in enumerate(itertools.pairwise(TO_SUBMITTED), start=1):
            assert await advance(pg, order_id, expected=expected, expected_seq=seq, new=new, detail={})
