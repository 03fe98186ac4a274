"""Orders put where a test needs them: inserted as the api does, moved on as a worker does."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_api.repository import insert_order
from orders_shared.db import connection
from orders_shared.status import Status
from orders_worker.repository import advance

TO_SUBMITTED = (Status.PENDING, Status.ROUTING, Status.BUILDING, Status.SUBMITTED)


async def new_order(engine: AsyncEngine, client: str, amount_in: Decimal = Decimal("1.25")) -> uuid.UUID:
    """A pending SOL → USDC order of ``client`` with its event #1."""
    order_id = uuid.uuid4()
    async with engine.begin() as conn:
        await insert_order(
            conn,
            order_id=order_id,
            client=client,
            token_in="SOL",
            token_out="USDC",
            amount_in=amount_in,
            slippage_bps=50,
        )
    return order_id


async def to_submitted(pool: AsyncConnectionPool[AsyncConnection[Any]], order_id: uuid.UUID) -> None:
    """Move a pending order to (submitted, 4), one compare-and-set step at a time."""
    async with connection(pool) as pg:
        for seq, (expected, new) in enumerate(itertools.pairwise(TO_SUBMITTED), start=1):
            assert await advance(pg, order_id, expected=expected, expected_seq=seq, new=new, detail={})
