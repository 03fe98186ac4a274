"""The SQL that more than one service runs: an order and its events, the pools, the API keys. Never commits.

Each statement is written once, as SQL text run on a `Database` connection; the ones that run per order or
per request are prepared (`prepare=True`). Rows come back as the frozen dataclasses below (psycopg's
`class_row`), so every reader sees typed fields. A service's own statements are in its own repository.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

import orjson
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from orders_shared.contracts import OrderEvent
from orders_shared.db import Conn
from orders_shared.pools import PairState, ParsedPools, dump, load
from orders_shared.status import Status, ensure_legal
from orders_venues import Catalog, Listing, PairPools, default_pools


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order as `orders` holds it."""

    id: uuid.UUID
    client: str
    idempotency_key: str | None
    request_hash: str | None
    type: str
    token_in: str
    token_out: str
    amount_in: Decimal
    slippage_bps: int
    status: str
    attempt: int
    last_seq: int
    route: dict[str, Any] | None
    tx_hash: str | None
    amount_out: Decimal | None
    executed_price: Decimal | None
    failure_code: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime
    enqueued_at: datetime | None
    limit_price: Decimal | None
    expires_at: datetime | None
    max_price: Decimal | None


ORDER_COLUMNS = (
    "id, client, idempotency_key, request_hash, type, token_in, token_out, amount_in, slippage_bps, status, "
    "attempt, last_seq, route, tx_hash, amount_out, executed_price, failure_code, failure_reason, "
    "created_at, updated_at, enqueued_at, limit_price, expires_at, max_price"
)

# One statement with and without the owner: a NULL client matches any order.
_ORDER = f"""
SELECT {ORDER_COLUMNS} FROM orders
WHERE id = %(id)s AND (%(client)s::text IS NULL OR client = %(client)s::text)
"""


async def fetch_order(conn: Conn, order_id: uuid.UUID, client: str | None = None) -> OrderRow | None:
    """The order; with ``client``, only if that client owns it."""
    async with conn.cursor(row_factory=class_row(OrderRow)) as cur:
        await cur.execute(_ORDER, {"id": order_id, "client": client}, prepare=True)
        return await cur.fetchone()


# Many orders' events in one trip: each (order, after) pair is numbered, and its rows come back under it.
_EVENTS_AFTER = """
SELECT f.n, e.seq, e.status, e.created_at, e.detail
FROM unnest(%(ids)s::uuid[], %(afters)s::int[]) WITH ORDINALITY AS f(id, after, n)
JOIN order_events e ON e.order_id = f.id AND e.seq > f.after
ORDER BY f.n, e.seq
"""


async def events_after(conn: Conn, wanted: Sequence[tuple[uuid.UUID, int]]) -> list[list[OrderEvent]]:
    """For each (order, after seq) of ``wanted``, in their order: its events after that seq, in seq order."""
    cur = await conn.execute(
        _EVENTS_AFTER,
        {"ids": [order_id for order_id, _ in wanted], "afters": [after for _, after in wanted]},
        prepare=True,
    )
    found: list[list[OrderEvent]] = [[] for _ in wanted]
    for n, seq, status, at, detail in await cur.fetchall():
        found[n - 1].append(OrderEvent.from_row(wanted[n - 1][0], seq, status, at, detail))
    return found


async def read_events(conn: Conn, order_id: uuid.UUID, after_seq: int = 0) -> list[OrderEvent]:
    """The order's events after ``after_seq``, in seq order."""
    (events,) = await events_after(conn, [(order_id, after_seq)])
    return events


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def draft_event(order_id: uuid.UUID, status: Status, detail: dict[str, Any]) -> tuple[OrderEvent, Jsonb]:
    """The event validated ahead of the statement that writes it, and the detail to store.

    Its seq, time and attempt are the database's, filled in from RETURNING; validating first means the
    detail stored is exactly what subscribers will be sent. The attempt is stored as the row has it.
    """
    draft = OrderEvent.model_validate(
        {**detail, "orderId": order_id, "seq": 1, "status": status, "at": _EPOCH}
    )
    stored = draft.detail()
    stored.pop("attempt", None)
    return draft, Jsonb(stored, dumps=orjson.dumps)


# A waiting order leaves `open` by compare-and-set on its status: fired (routing), cancelled or expired.
# Nothing else moves an open order, so the status alone decides which of them wins a race.
_LEAVE_OPEN = """
WITH moved AS (
    UPDATE orders
    SET status = %(new)s, last_seq = last_seq + 1, updated_at = clock_timestamp(),
        attempt = GREATEST(attempt, %(attempt)s)
    WHERE id = %(id)s AND status = 'open'
    RETURNING id, last_seq, updated_at, attempt
), appended AS (
    INSERT INTO order_events (order_id, seq, status, detail, created_at)
    SELECT id, last_seq, %(new)s, %(detail)s::jsonb || jsonb_build_object('attempt', attempt), updated_at
    FROM moved
)
SELECT last_seq, updated_at, attempt FROM moved
"""


async def leave_open(
    conn: Conn, order_id: uuid.UUID, new: Status, detail: dict[str, Any] | None = None, *, attempt: int = 0
) -> OrderEvent | None:
    """Move the order from `open` to ``new`` with its event (one statement); None if it was not open."""
    ensure_legal(Status.OPEN, new)
    draft, stored = draft_event(order_id, new, detail or {})
    params = {"id": order_id, "new": new.value, "attempt": attempt, "detail": stored}
    cur = await conn.execute(_LEAVE_OPEN, params, prepare=True)
    row = await cur.fetchone()
    if row is None:
        return None
    seq, at, moved_attempt = row
    return draft.model_copy(update={"seq": seq, "at": at, "attempt": moved_attempt})


# The state comes back only when it is not the version the caller has parsed already.
_POOLS = """
SELECT version, synced_at, origin, CASE WHEN version = %(known)s THEN NULL ELSE state END
FROM pools WHERE pair = %(pair)s
"""
_POOLS_LOCKED = _POOLS + " FOR UPDATE"


async def read_pools(
    conn: Conn, pair: str, parsed: ParsedPools, catalog: Catalog, *, lock: bool = False
) -> PairState:
    """One pair's pools; with ``lock``, held until the transaction ends. Parses only a version not in
    ``parsed`` (a launched pair's parse makes it known to ``catalog``)."""
    # Taken before the query: another task may replace the entry while the query runs, and a NULL state
    # means "the version you sent", whatever the cache holds by the time it arrives.
    cached = parsed.entry(pair)
    known = cached[0] if cached is not None else -1
    cur = await conn.execute(_POOLS_LOCKED if lock else _POOLS, {"pair": pair, "known": known}, prepare=True)
    row = await cur.fetchone()
    if row is None:
        raise LookupError(f"no pools for {pair}")
    version, synced_at, origin, state = row
    if state is None and cached is not None:
        pools = cached[1]
    else:
        pools = load(state, catalog)
        # Versions only grow: a read that another task's newer entry overtook must not move the cache
        # back, or the next read would parse again what this process has parsed already.
        if version > parsed.version(pair):
            parsed.put(pair, version, pools)
    return PairState(pools, synced_at, origin, version)


_SEED_POOLS = """
INSERT INTO pools (pair, state, synced_at, origin) VALUES (%(pair)s, %(state)s, %(at)s, %(at)s)
ON CONFLICT (pair) DO NOTHING
"""


async def seed_pools(conn: Conn, now: int | None = None) -> None:
    """Create the default pools once; a no-op for the pairs that exist (every worker calls it at start)."""
    origin = int(time.time()) if now is None else now
    async with conn.cursor() as cur:
        await cur.executemany(
            _SEED_POOLS,
            [
                {"pair": pair, "state": Jsonb(dump(pools)), "at": origin}
                for pair, pools in default_pools(now=origin).items()
            ],
        )


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What checking a key needs of its `api_keys` row."""

    secret_sha256: str
    client: str
    revoked: bool
    admin: bool


@dataclass(frozen=True, slots=True)
class KeyListing:
    """A key as `orders-api-key list` shows it (never the key)."""

    key_id: str
    client: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


_FIND_KEY = "SELECT secret_sha256, client, revoked, admin FROM api_keys WHERE key_id = %(key_id)s"
_TOUCH_KEY = "UPDATE api_keys SET last_used_at = now() WHERE key_id = %(key_id)s"
_INSERT_KEY = """
INSERT INTO api_keys (key_id, secret_sha256, client, name, admin)
VALUES (%(key_id)s, %(digest)s, %(client)s, %(name)s, %(admin)s)
"""
_REVOKE_KEY = "UPDATE api_keys SET revoked = true WHERE key_id = %(key_id)s"
_LIST_KEYS = """
SELECT key_id, client, name, created_at, last_used_at, revoked FROM api_keys ORDER BY created_at, key_id
"""


async def find_key(conn: Conn, key_id: str) -> KeyRecord | None:
    """The key's digest, client and whether it is revoked; None if there is no such key."""
    async with conn.cursor(row_factory=class_row(KeyRecord)) as cur:
        await cur.execute(_FIND_KEY, {"key_id": key_id}, prepare=True)
        return await cur.fetchone()


async def touch_key(conn: Conn, key_id: str) -> None:
    """Record that the key was used now."""
    await conn.execute(_TOUCH_KEY, {"key_id": key_id}, prepare=True)


async def insert_key(
    conn: Conn, key_id: str, digest: str, client: str, name: str, *, admin: bool = False
) -> None:
    """Store a new key by its id and the digest of its secret; ``admin`` keys may also launch tokens."""
    params = {"key_id": key_id, "digest": digest, "client": client, "name": name, "admin": admin}
    await conn.execute(_INSERT_KEY, params)


async def revoke_key(conn: Conn, key_id: str) -> bool:
    """Revoke a key; False if there is no such key."""
    cur = await conn.execute(_REVOKE_KEY, {"key_id": key_id})
    return cur.rowcount == 1


async def list_keys(conn: Conn) -> list[KeyListing]:
    """Every key, oldest first."""
    async with conn.cursor(row_factory=class_row(KeyListing)) as cur:
        await cur.execute(_LIST_KEYS)
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A launched token as `tokens` holds it."""

    symbol: str
    mint: str
    decimals: int
    quote: str
    price: Decimal
    liquidity: Decimal
    opens_at: datetime


_TOKEN_COLUMNS = "symbol, mint, decimals, quote, price, liquidity, opens_at"

# A launch is its token and its pools, written together; nothing when the symbol or the mint exists.
_INSERT_LAUNCH = """
WITH token AS (
    INSERT INTO tokens (symbol, mint, decimals, quote, price, liquidity, opens_at)
    VALUES (%(symbol)s, %(mint)s, %(decimals)s, %(quote)s, %(price)s, %(liquidity)s, %(opens_at)s)
    ON CONFLICT DO NOTHING
    RETURNING symbol
), pool AS (
    INSERT INTO pools (pair, state, synced_at, origin, opens_at)
    SELECT %(pair)s, %(state)s, %(opens_unix)s, %(opens_unix)s, %(opens_unix)s FROM token
    ON CONFLICT (pair) DO NOTHING
)
SELECT symbol FROM token
"""
_LAUNCHES = f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY opens_at, symbol"
_FIND_LAUNCH = f"""
SELECT {_TOKEN_COLUMNS} FROM tokens WHERE symbol = upper(%(key)s) OR mint = %(key)s
"""


async def insert_launch(conn: Conn, token: TokenRecord, listing: Listing, pools: PairPools) -> bool:
    """Store a launched token and its pools; False (nothing written) if its symbol or mint exists."""
    params = {
        "symbol": token.symbol,
        "mint": token.mint,
        "decimals": token.decimals,
        "quote": token.quote,
        "price": token.price,
        "liquidity": token.liquidity,
        "opens_at": token.opens_at,
        "pair": listing.pair,
        "state": Jsonb(dump(pools, listing)),
        "opens_unix": int(token.opens_at.timestamp()),
    }
    cur = await conn.execute(_INSERT_LAUNCH, params)
    return await cur.fetchone() is not None


async def list_launches(conn: Conn) -> list[TokenRecord]:
    """Every launched token, by opening."""
    async with conn.cursor(row_factory=class_row(TokenRecord)) as cur:
        await cur.execute(_LAUNCHES)
        return await cur.fetchall()


async def find_launch(conn: Conn, symbol_or_mint: str) -> TokenRecord | None:
    """The launched token of that symbol (any case) or mint, if any."""
    async with conn.cursor(row_factory=class_row(TokenRecord)) as cur:
        await cur.execute(_FIND_LAUNCH, {"key": symbol_or_mint}, prepare=True)
        return await cur.fetchone()


class WaitingOrder(Protocol):
    """What is stored of a limit or sniper order besides its terms."""

    @property
    def order_id(self) -> uuid.UUID: ...
    @property
    def client(self) -> str: ...
    @property
    def idempotency_key(self) -> str | None: ...
    @property
    def request_hash(self) -> str | None: ...
    @property
    def token_in(self) -> str: ...
    @property
    def token_out(self) -> str: ...
    @property
    def amount_in(self) -> Decimal: ...
    @property
    def slippage_bps(self) -> int: ...


def _insert_waiting(kind: str, price_column: str, clock: str) -> str:
    # A waiting order is stored `pending` and moves to `open` in the same statement (events 1 and 2). It
    # is stamped enqueued: the outbox relay never publishes it; the worker fires it (the trigger a limit
    # order, when the pools pay its price; a launch's turn a sniper order, when its token's pool opens).
    return f"""
WITH created AS (
    INSERT INTO orders (
        id, client, idempotency_key, request_hash, type, token_in, token_out, amount_in, slippage_bps,
        status, attempt, last_seq, {price_column}, expires_at, created_at, updated_at, enqueued_at
    )
    VALUES (
        %(id)s, %(client)s, %(key)s, %(hash)s, '{kind}', %(token_in)s, %(token_out)s, %(amount_in)s,
        %(slippage_bps)s, 'open', 0, 2, %(price)s, %(expires_at)s, {clock}, {clock}, {clock}
    )
    ON CONFLICT ON CONSTRAINT uq_orders_client_idempotency_key DO NOTHING
    RETURNING id, created_at
), events AS (
    INSERT INTO order_events (order_id, seq, status, detail, created_at)
    SELECT created.id, s.seq, s.status, '{{}}'::jsonb, created.created_at
    FROM created, (VALUES (1, 'pending'), (2, 'open')) AS s(seq, status)
)
SELECT id FROM created
"""


# Snipers of one launch land in submission order: each row gets its own clock_timestamp().
_INSERT_WAITING = {
    "limit": _insert_waiting("limit", "limit_price", "now()"),
    "sniper": _insert_waiting("sniper", "max_price", "clock_timestamp()"),
}


async def insert_waiting_order(
    conn: Conn,
    order: WaitingOrder,
    *,
    kind: Literal["limit", "sniper"],
    price: Decimal | None,
    expires_at: datetime,
) -> bool:
    """Insert a limit order (``price`` its limit price) or a sniper order (its maxPrice) with its `pending`
    and `open` events; False if its Idempotency-Key was taken (nothing written)."""
    params = {
        "id": order.order_id,
        "client": order.client,
        "key": order.idempotency_key,
        "hash": order.request_hash,
        "token_in": order.token_in,
        "token_out": order.token_out,
        "amount_in": order.amount_in,
        "slippage_bps": order.slippage_bps,
        "price": price,
        "expires_at": expires_at,
    }
    cur = await conn.execute(_INSERT_WAITING[kind], params, prepare=True)
    return await cur.fetchone() is not None


@dataclass(frozen=True, slots=True)
class NewSniper:
    """A sniper order to store: who, what, and what it accepts at the launch."""

    order_id: uuid.UUID
    client: str
    idempotency_key: str | None
    request_hash: str | None
    token_in: str
    token_out: str
    amount_in: Decimal
    slippage_bps: int
    max_price: Decimal | None
    expires_at: datetime


async def insert_sniper_order(conn: Conn, order: NewSniper) -> bool:
    """Insert the sniper order with its `pending` and `open` events; False if its Idempotency-Key was
    taken (nothing written)."""
    return await insert_waiting_order(
        conn, order, kind="sniper", price=order.max_price, expires_at=order.expires_at
    )


# The launched tokens whose pools have opened and that open snipers wait for (by symbol or by mint).
_DUE_SNIPES = f"""
SELECT {_TOKEN_COLUMNS} FROM tokens t
WHERE t.opens_at <= now() AND EXISTS (
    SELECT FROM orders o
    WHERE o.status = 'open' AND o.type = 'sniper' AND o.token_out IN (t.symbol, t.mint)
)
ORDER BY t.opens_at
"""


async def due_snipes(conn: Conn) -> list[TokenRecord]:
    """Opened launches with open snipers waiting for them."""
    async with conn.cursor(row_factory=class_row(TokenRecord)) as cur:
        await cur.execute(_DUE_SNIPES, prepare=True)
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class Sniper:
    """An open sniper order as its launch fires it."""

    id: uuid.UUID
    token_in: str
    amount_in: Decimal
    slippage_bps: int
    max_price: Decimal | None
    last_seq: int
    created_at: datetime


# In submission order, locked until the launch's turn commits; an expired one is left to the expiry.
_OPEN_SNIPERS = """
SELECT id, token_in, amount_in, slippage_bps, max_price, last_seq, created_at FROM orders
WHERE status = 'open' AND type = 'sniper' AND token_out = ANY(%(keys)s::text[])
  AND (expires_at IS NULL OR expires_at > now())
ORDER BY created_at, id
LIMIT %(limit)s
FOR UPDATE
"""


async def open_snipers(conn: Conn, keys: Sequence[str], *, limit: int) -> list[Sniper]:
    """The open snipers for the token named by any of ``keys`` (its symbol, its mint), oldest first,
    locked until the transaction ends."""
    async with conn.cursor(row_factory=class_row(Sniper)) as cur:
        await cur.execute(_OPEN_SNIPERS, {"keys": list(keys), "limit": limit}, prepare=True)
        return await cur.fetchall()


def expiring(due: str) -> str:
    """The statement that moves the open orders matching ``due`` (a WHERE condition, besides being open)
    past their expiry to `expired` with their events, oldest expiry first, at most %(limit)s of them.

    The orders a cancel, a fire or a launch holds are skipped, and the UPDATE checks the status again.
    """
    return f"""
WITH due AS (
    SELECT id FROM orders
    WHERE status = 'open' AND {due} AND expires_at <= now()
    ORDER BY expires_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE orders o
    SET status = 'expired', last_seq = o.last_seq + 1, updated_at = clock_timestamp()
    FROM due
    WHERE o.id = due.id AND o.status = 'open'
    RETURNING o.id, o.last_seq, o.updated_at, o.attempt
), appended AS (
    INSERT INTO order_events (order_id, seq, status, detail, created_at)
    SELECT id, last_seq, 'expired', jsonb_build_object('attempt', attempt), updated_at FROM moved
)
SELECT id, last_seq, updated_at, attempt FROM moved
"""


async def expire(conn: Conn, statement: str, params: dict[str, Any]) -> list[OrderEvent]:
    """Run an `expiring` statement; the `expired` events of the orders it moved."""
    cur = await conn.execute(statement, params, prepare=True)
    return [
        OrderEvent(order_id=order_id, seq=seq, status=Status.EXPIRED, at=at, attempt=attempt)
        for order_id, seq, at, attempt in await cur.fetchall()
    ]


_EXPIRE_SNIPERS = expiring("type = 'sniper'")


async def expire_snipers(conn: Conn, *, limit: int) -> list[OrderEvent]:
    """Expire up to ``limit`` open sniper orders whose time is up; their `expired` events."""
    return await expire(conn, _EXPIRE_SNIPERS, {"limit": limit})
