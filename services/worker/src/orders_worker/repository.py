"""SQL of the worker: compare-and-set transitions with their events, and the swap ledger. Never commits.

Every order runs these statements several times, so they are SQL text on psycopg's connection (see
`orders_shared.db.driver`): prepared after a few uses, compiled never.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from psycopg.rows import namedtuple_row
from psycopg.types.json import Jsonb
from sqlalchemy.ext.asyncio import AsyncConnection

from orders_shared.contracts import OrderEvent
from orders_shared.db import driver
from orders_shared.pools import PairState, dump, load
from orders_shared.status import Status, ensure_legal
from orders_venues import PairPools

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Swap:
    """A swap that lands with the step confirming it: the pair's pools after it, and its ledger entry."""

    pair: str
    pools_after: PairPools
    synced_at: int
    signature: str
    venue: str
    amount_in: Decimal
    amount_out: Decimal
    slot: int


_ORDER = """
SELECT id, status, last_seq, attempt, token_in, token_out, amount_in, slippage_bps, route, created_at
FROM orders WHERE id = %(id)s
"""


async def fetch_order(conn: AsyncConnection, order_id: uuid.UUID) -> Any | None:
    """What the worker needs of the order (a named tuple), or None if there is no such order."""
    pg = await driver(conn)
    async with pg.cursor(row_factory=namedtuple_row) as cur:
        await cur.execute(_ORDER, {"id": order_id}, prepare=True)
        return await cur.fetchone()


@dataclass(slots=True)
class ParsedPools:
    """Each pair's pools as last parsed, by version: parsing is most of what reading the pools costs."""

    by_pair: dict[str, tuple[int, PairPools]] = field(default_factory=dict)

    def get(self, pair: str, version: int) -> PairPools | None:
        """The pair's pools at ``version``, if parsed before."""
        known = self.by_pair.get(pair)
        return known[1] if known is not None and known[0] == version else None

    def put(self, pair: str, version: int, pools: PairPools) -> None:
        """Remember the pair's pools at ``version``."""
        self.by_pair[pair] = (version, pools)


# The state comes back only when it is not the version the caller has parsed already.
_POOLS = """
SELECT version, synced_at, origin, CASE WHEN version = %(known)s THEN NULL ELSE state END
FROM pools WHERE pair = %(pair)s
"""
_POOLS_LOCKED = _POOLS + " FOR UPDATE"


async def read_pools(
    conn: AsyncConnection, pair: str, parsed: ParsedPools, *, lock: bool = False
) -> PairState:
    """One pair's pools; with ``lock``, held until the transaction ends."""
    known = parsed.by_pair.get(pair)
    pg = await driver(conn)
    cur = await pg.execute(
        _POOLS_LOCKED if lock else _POOLS,
        {"pair": pair, "known": known[0] if known else -1},
        prepare=True,
    )
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"no pools for {pair}")
    version, synced_at, origin, state = row
    pools = parsed.get(pair, version)
    if pools is None:
        pools = load(state)
        parsed.put(pair, version, pools)
    return PairState(pools, synced_at, origin, version)


# A swap lands only if the order moved: both CTEs are conditional on `moved` having a row.
_LANDING = """,
pooled AS (
    UPDATE pools SET state = %(pools_after)s, synced_at = %(synced_at)s, version = version + 1
    WHERE pair = %(pair)s AND EXISTS (SELECT FROM moved)
), ledger AS (
    INSERT INTO executions (order_id, signature, venue, amount_in, amount_out, slot)
    SELECT %(id)s, %(signature)s, %(venue)s, %(swap_in)s, %(swap_out)s, %(slot)s FROM moved
    ON CONFLICT (order_id) DO NOTHING
)"""


def _advance_sql(columns: tuple[str, ...], *, raise_attempt: bool, swap: bool) -> str:
    sets = "".join(f", {name} = %({name})s" for name in columns)
    if raise_attempt:
        sets += ", attempt = GREATEST(attempt, %(raise_attempt)s)"
    # The event's detail is stored with the attempt the row has after the update.
    return f"""
WITH moved AS (
    UPDATE orders
    SET status = %(new)s, last_seq = last_seq + 1, updated_at = clock_timestamp(){sets}
    WHERE id = %(id)s AND status = %(expected)s AND last_seq = %(expected_seq)s
    RETURNING last_seq, updated_at, attempt
), appended AS (
    INSERT INTO order_events (order_id, seq, status, detail, created_at)
    SELECT %(id)s, last_seq, %(new)s, %(detail)s || jsonb_build_object('attempt', attempt), updated_at
    FROM moved
){_LANDING if swap else ""}
SELECT last_seq, updated_at, attempt FROM moved
"""


async def advance(
    conn: AsyncConnection,
    order_id: uuid.UUID,
    *,
    expected: Status,
    expected_seq: int,
    new: Status,
    detail: dict[str, Any],
    swap: Swap | None = None,
    raise_attempt: int | None = None,
    **columns: Any,
) -> OrderEvent | None:
    """Move the order from (``expected``, ``expected_seq``) to ``new`` and append the event.

    One statement, so one round trip, and atomic even in autocommit: the status moves with its event.
    ``columns`` are set on the order; ``raise_attempt`` raises its attempt to at least that. With
    ``swap``, the pools and the ledger are written in the same statement, only if the order moved.
    None when the order is no longer where the caller saw it (another worker holds it): nothing written.
    """
    ensure_legal(expected, new)
    # Validated first (the seq, time and attempt are the database's, filled in below), so the detail
    # stored is exactly what subscribers will be sent.
    draft = OrderEvent.model_validate({**detail, "orderId": order_id, "seq": 1, "status": new, "at": _EPOCH})
    stored = draft.detail()
    stored.pop("attempt", None)
    names = tuple(sorted(columns))
    params: dict[str, Any] = {
        "id": order_id,
        "new": new.value,
        "expected": expected.value,
        "expected_seq": expected_seq,
        "detail": Jsonb(stored),
        "raise_attempt": raise_attempt,
    }
    params.update(
        (name, Jsonb(value) if isinstance(value, dict) else value) for name, value in columns.items()
    )
    if swap is not None:
        params.update(
            pair=swap.pair,
            pools_after=Jsonb(dump(swap.pools_after)),
            synced_at=swap.synced_at,
            signature=swap.signature,
            venue=swap.venue,
            swap_in=swap.amount_in,
            swap_out=swap.amount_out,
            slot=swap.slot,
        )
    sql = _advance_sql(names, raise_attempt=raise_attempt is not None, swap=swap is not None)
    pg = await driver(conn)
    cur = await pg.execute(sql, params, prepare=True)
    row = await cur.fetchone()
    if row is None:
        return None
    seq, at, attempt = row
    return draft.model_copy(update={"seq": seq, "at": at, "attempt": attempt})


_EXECUTION = "SELECT amount_out FROM executions WHERE order_id = %(id)s"


async def find_execution(conn: AsyncConnection, order_id: uuid.UUID) -> Decimal | None:
    """What the order's swap paid, if it landed."""
    pg = await driver(conn)
    cur = await pg.execute(_EXECUTION, {"id": order_id}, prepare=True)
    row = await cur.fetchone()
    return None if row is None else Decimal(row[0])
