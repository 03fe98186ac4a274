"""What the api does with orders: check them against the token registry, store them, read them back."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from orders_api import repository
from orders_api.announce import EventAnnouncer
from orders_api.ingest import OrderWriter
from orders_api.repository import LimitTerms, NewOrder
from orders_api.schemas import OrderDetail, OrderPage, OrderRequest, OrderView, QuoteView
from orders_api.settings import ApiSettings
from orders_shared.contracts import RouteLeg
from orders_shared.db import Database
from orders_shared.decision import decide, settled
from orders_shared.errors import IdempotencyConflict, InvalidOrder, NoRoute, NotCancellable, OrderNotFound
from orders_shared.launches import resolve
from orders_shared.metrics import Metrics
from orders_shared.pools import ParsedPools
from orders_shared.repository import (
    NewSniper,
    OrderRow,
    fetch_order,
    insert_sniper_order,
    leave_open,
    read_events,
    read_pools,
)
from orders_shared.status import Status
from orders_venues import Side, Unroutable, is_mint, listed_pairs, listing, orient
from orders_venues.tokens import TOKENS, Token, find_token, plain

# SPL token amounts are u64 on chain: nothing larger can ever be traded.
MAX_BASE_UNITS = 2**64 - 1
# How long a limit order waits for its price: by default, and at most.
DEFAULT_EXPIRY = timedelta(hours=24)
MAX_EXPIRY = timedelta(days=30)
MAX_LIMIT_PRICE = Decimal(10) ** 18


@dataclass(frozen=True, slots=True)
class ValidOrder:
    """An order request that passed every check."""

    token_in: Token
    token_out: Token
    amount_in: Decimal
    slippage_bps: int
    side: Side
    # What a limit order waits for; None for a market order.
    limit: LimitTerms | None = None


# Unknown fields are ignored and named back, as the seed's clients need; they still may not be hostile.
MAX_IGNORED_DEPTH = 4
MAX_IGNORED_STRING = 256
MAX_IGNORED_FIELDS = 20


def _check_ignored(name: str, value: object, depth: int = 1) -> None:
    if len(name) > 64:
        raise InvalidOrder(name[:64], "field names are at most 64 characters")
    if depth > MAX_IGNORED_DEPTH:
        raise InvalidOrder(name, f"nested deeper than {MAX_IGNORED_DEPTH} levels")
    if isinstance(value, str) and len(value) > MAX_IGNORED_STRING:
        raise InvalidOrder(name, f"strings are at most {MAX_IGNORED_STRING} characters")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _check_ignored(name, child, depth + 1)


def _check_extra(request: OrderRequest) -> None:
    extra = request.model_extra or {}
    if len(extra) > MAX_IGNORED_FIELDS:
        raise InvalidOrder("body", f"at most {MAX_IGNORED_FIELDS} unknown fields")
    for name, value in extra.items():
        _check_ignored(name, value)


def _known(symbol_or_mint: str, name: str) -> Token:
    token = find_token(symbol_or_mint)
    if token is None:
        raise InvalidOrder(name, f"unknown token {symbol_or_mint!r}; use a symbol or a mint address")
    return token


def _amount(request: OrderRequest, token_in: Token) -> Decimal:
    amount = request.amount_in
    if amount <= 0:
        raise InvalidOrder("amountIn", "must be greater than zero")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > token_in.decimals:
        raise InvalidOrder("amountIn", f"{token_in.symbol} has {token_in.decimals} decimals; got more")
    if token_in.to_base_units(amount) > MAX_BASE_UNITS:
        raise InvalidOrder("amountIn", f"too large: at most {token_in.from_base_units(MAX_BASE_UNITS)}")
    return plain(amount)


def opens_at(pair: str) -> int | None:
    """When a launched pair's pools open (unix s); None for a seeded pair (always open)."""
    launched = listing(pair)
    return None if launched is None else launched.opens_at


def _trading_pairs(now: float) -> list[str]:
    return [pair for pair in listed_pairs() if (opens_at(pair) or 0) <= now]


def validate(request: OrderRequest, default_slippage_bps: int) -> ValidOrder:
    """Check what pydantic cannot: tokens we trade, a pool open now, amounts the tokens can express."""
    _check_extra(request)
    if request.type == "sniper":
        raise InvalidOrder("type", "a sniper order is checked by validate_sniper")
    token_in = _known(request.token_in, "tokenIn")
    token_out = _known(request.token_out, "tokenOut")
    if token_in == token_out:
        raise InvalidOrder("tokenOut", "must differ from tokenIn")
    now = time.time()
    try:
        side = orient(token_in.symbol, token_out.symbol)
    except Unroutable:
        raise InvalidOrder(
            "tokenOut",
            f"no pool trades {token_in.symbol} for {token_out.symbol}; "
            f"pairs: {', '.join(_trading_pairs(now))}",
        ) from None
    opening = opens_at(side.pair)
    if opening is not None and opening > now:
        at = datetime.fromtimestamp(opening, UTC).isoformat().replace("+00:00", "Z")
        raise InvalidOrder("tokenOut", f"the {side.pair} pool opens at {at}; a sniper order can wait for it")
    amount = _amount(request, token_in)
    if request.max_price is not None:
        raise InvalidOrder("maxPrice", "only a sniper order has a maxPrice")
    slippage = request.slippage_bps if request.slippage_bps is not None else default_slippage_bps
    if request.type == "limit":
        if opening is not None:
            # The trigger evaluates the seeded pairs: a limit order here would wait and never fire.
            raise InvalidOrder("tokenOut", f"limit orders trade the seeded pairs only, not {side.pair} (yet)")
        return ValidOrder(token_in, token_out, amount, slippage, side, _limit_terms(request))
    if request.limit_price is not None:
        raise InvalidOrder("limitPrice", "only a limit order has a limit price")
    if request.expires_at is not None:
        raise InvalidOrder("expiresAt", "only a limit or sniper order expires")
    return ValidOrder(token_in, token_out, amount, slippage, side)


@dataclass(frozen=True, slots=True)
class ValidSniper:
    """A sniper order that passed every check; ``token_out`` is a symbol, or a mint not launched yet."""

    token_in: Token
    token_out: str
    amount_in: Decimal
    slippage_bps: int
    max_price: Decimal | None
    expires_at: datetime


def validate_sniper(request: OrderRequest, default_slippage_bps: int) -> ValidSniper:
    """A sniper order waits for a pool that does not trade yet: a token announced for launch (its symbol or
    mint), or any mint address; a pair whose pool trades now is refused, naming tokenOut."""
    _check_extra(request)
    token_in = _known(request.token_in, "tokenIn")
    token_out = find_token(request.token_out)
    if token_out is None and not is_mint(request.token_out):
        raise InvalidOrder(
            "tokenOut", f"unknown token {request.token_out!r}; use a symbol or a token's mint address"
        )
    if token_out is not None:
        if token_out == token_in:
            raise InvalidOrder("tokenOut", "must differ from tokenIn")
        try:
            side = orient(token_in.symbol, token_out.symbol)
        except Unroutable:
            # A launched token trades against its launch's quote token only; a seeded one is no launch.
            launched = token_out.symbol not in TOKENS
            raise InvalidOrder(
                "tokenIn" if launched else "tokenOut",
                f"no launch of {token_out.symbol} trades it for {token_in.symbol}",
            ) from None
        opening = opens_at(side.pair)
        if opening is None or opening <= time.time():
            raise InvalidOrder(
                "tokenOut",
                f"a pool already trades {token_in.symbol} for {token_out.symbol}: "
                "send a market or limit order",
            )
    if request.limit_price is not None:
        raise InvalidOrder("limitPrice", "only a limit order has a limit price")
    max_price = request.max_price
    if max_price is not None:
        if max_price <= 0:
            raise InvalidOrder("maxPrice", "must be greater than zero")
        if max_price > MAX_LIMIT_PRICE or len(max_price.normalize().as_tuple().digits) > 28:
            raise InvalidOrder("maxPrice", f"at most {MAX_LIMIT_PRICE}, with at most 28 significant digits")
        max_price = plain(max_price)
    slippage = request.slippage_bps if request.slippage_bps is not None else default_slippage_bps
    return ValidSniper(
        token_in=token_in,
        token_out=token_out.symbol if token_out is not None else request.token_out,
        amount_in=_amount(request, token_in),
        slippage_bps=slippage,
        max_price=max_price,
        expires_at=_expiry(request),
    )


def _limit_terms(request: OrderRequest) -> LimitTerms:
    """A limit order's price (positive) and expiry (in the future, at most MAX_EXPIRY ahead)."""
    price = request.limit_price
    if price is None:
        raise InvalidOrder("limitPrice", "a limit order needs a limit price (tokenOut per tokenIn)")
    if price <= 0:
        raise InvalidOrder("limitPrice", "must be greater than zero")
    if price > MAX_LIMIT_PRICE:
        raise InvalidOrder("limitPrice", f"at most {MAX_LIMIT_PRICE}")
    if len(price.normalize().as_tuple().digits) > 28:
        raise InvalidOrder("limitPrice", "at most 28 significant digits")
    return LimitTerms(plain(price), _expiry(request))


def _expiry(request: OrderRequest) -> datetime:
    """A waiting order's expiry: in the future, at most MAX_EXPIRY ahead; DEFAULT_EXPIRY from now if unset."""
    now = datetime.now(UTC)
    expires_at = request.expires_at if request.expires_at is not None else now + DEFAULT_EXPIRY
    if expires_at.tzinfo is None:
        raise InvalidOrder("expiresAt", "must carry a time zone (RFC 3339)")
    if expires_at <= now:
        raise InvalidOrder("expiresAt", "must be in the future")
    if expires_at > now + MAX_EXPIRY:
        raise InvalidOrder("expiresAt", f"at most {MAX_EXPIRY.days} days ahead")
    return expires_at


def request_hash(request: OrderRequest) -> str:
    """A digest of the request as parsed, so key order and whitespace do not make two bodies differ."""
    # The standard json module: unknown fields may carry integers beyond 64 bits, which orjson refuses.
    body = request.model_dump(mode="json", by_alias=True)
    # A market order hashes as it did before limit orders existed: a key replayed across the upgrade matches.
    for name in ("limitPrice", "expiresAt", "maxPrice"):
        if body.get(name) is None:
            body.pop(name, None)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def encode_cursor(created_at: datetime, order_id: uuid.UUID) -> str:
    """An opaque cursor for the order after which the next page starts."""
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{order_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The inverse of encode_cursor; a cursor we did not make is the client's error."""
    try:
        created, _, order_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(order_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidOrder("cursor", "not a cursor this api returned") from None


_VIEW_COLUMNS = (
    "status", "type", "token_in", "token_out", "amount_in", "slippage_bps", "attempt", "tx_hash",
    "amount_out", "executed_price", "failure_code", "failure_reason", "limit_price", "expires_at",
    "created_at", "updated_at",
)  # fmt: skip


def _view_fields(row: OrderRow) -> dict[str, Any]:
    route = row.route or {}
    return {
        "order_id": row.id,
        **{name: getattr(row, name) for name in _VIEW_COLUMNS},
        "dex_chosen": route.get("dexChosen"),
        "route": [RouteLeg.model_validate(leg) for leg in route.get("legs", [])] or None,
    }


@dataclass(frozen=True, slots=True)
class Submitted:
    """What `submit` did: the order's id (the first one's, for a replayed key) and whether it is new."""

    order_id: uuid.UUID
    ignored_fields: list[str]
    created: bool

    def json(self) -> bytes:
        """The answer's body, as `Accepted` documents it."""
        return orjson.dumps({"orderId": str(self.order_id), "ignoredFields": self.ignored_fields})


@dataclass(slots=True)
class OrderService:
    """Submits and reads orders; one instance per process, built in the lifespan."""

    db: Database
    writer: OrderWriter
    metrics: Metrics
    settings: ApiSettings
    parsed: ParsedPools = field(default_factory=ParsedPools)
    # Where a cancel's event is announced to the notifiers (None: they find it in Postgres).
    events: EventAnnouncer | None = None

    async def submit(
        self, request: OrderRequest, *, client: str, idempotency_key: str | None = None
    ) -> Submitted:
        """Store the order and its `pending` event, group-committed with concurrent submissions.

        The writer publishes it right after the commit. A replayed Idempotency-Key with the same body
        gets the first order back (``created`` False); with a different body, IdempotencyConflict.
        """
        await self._learn(request.token_in, request.token_out)
        if request.type == "sniper":
            return await self._submit_sniper(request, client=client, idempotency_key=idempotency_key)
        order = validate(request, self.settings.default_slippage_bps)
        order_id = uuid.uuid4()
        ignored = request.ignored_fields()
        body_hash = request_hash(request) if idempotency_key else None
        new = NewOrder(
            order_id=order_id,
            client=client,
            token_in=order.token_in.symbol,
            token_out=order.token_out.symbol,
            amount_in=order.amount_in,
            slippage_bps=order.slippage_bps,
            idempotency_key=idempotency_key,
            request_hash=body_hash,
        )
        if order.limit is not None:
            created = await self._store_limit(new, order.limit)
        else:
            created = await self.writer.write(new)
        if not created:
            return await self._replayed(client, idempotency_key, body_hash, ignored)
        self.metrics.orders_accepted.inc()
        if ignored:
            self.metrics.ignored_fields.inc(len(ignored))
        return Submitted(order_id, ignored, created=True)

    async def _learn(self, *names: str) -> None:
        """Read from Postgres the tokens this process does not know yet (launched since it last heard)."""
        missing = [name for name in names if find_token(name) is None]
        if missing:
            async with self.db.connection() as conn:
                for name in missing:
                    await resolve(conn, name)

    async def _submit_sniper(
        self, request: OrderRequest, *, client: str, idempotency_key: str | None
    ) -> Submitted:
        """Store a sniper order `open` with its `pending` and `open` events; the worker fires it when its
        pool opens."""
        order = validate_sniper(request, self.settings.default_slippage_bps)
        order_id = uuid.uuid4()
        ignored = request.ignored_fields()
        body_hash = request_hash(request) if idempotency_key else None
        new = NewSniper(
            order_id=order_id,
            client=client,
            idempotency_key=idempotency_key,
            request_hash=body_hash,
            token_in=order.token_in.symbol,
            token_out=order.token_out,
            amount_in=order.amount_in,
            slippage_bps=order.slippage_bps,
            max_price=order.max_price,
            expires_at=order.expires_at,
        )
        async with self.db.connection() as conn:
            created = await insert_sniper_order(conn, new)
        if not created:
            return await self._replayed(client, idempotency_key, body_hash, ignored)
        self.metrics.orders_accepted.inc()
        if ignored:
            self.metrics.ignored_fields.inc(len(ignored))
        return Submitted(order_id, ignored, created=True)

    async def _replayed(
        self, client: str, idempotency_key: str | None, body_hash: str | None, ignored: list[str]
    ) -> Submitted:
        """The order an Idempotency-Key created first, if this request's body is the same."""
        assert idempotency_key is not None  # only the key's unique constraint can refuse the row
        async with self.db.connection() as conn:
            first = await repository.find_by_idempotency_key(conn, client, idempotency_key)
        if first is None or first.request_hash != body_hash:
            raise IdempotencyConflict("this Idempotency-Key was used with a different body")
        return Submitted(first.id, ignored, created=False)

    async def _store_limit(self, order: NewOrder, terms: LimitTerms) -> bool:
        """Store a limit order with its `pending` and `open` events in one statement; nothing is published:
        the worker's trigger fires it when the pools pay its price."""
        async with self.db.connection() as conn:
            return await repository.insert_limit_order(conn, order, terms)

    async def cancel(self, order_id: uuid.UUID, *, client: str) -> OrderDetail:
        """Cancel a waiting order: compare-and-set `open -> cancelled`, which a fire or an expiry may win
        first. Cancelling a cancelled order answers the same; any other status is NotCancellable."""
        async with self.db.connection() as conn:
            row = await fetch_order(conn, order_id, client)
            if row is None:
                raise OrderNotFound(str(order_id))
            if row.status == Status.OPEN:
                event = await leave_open(conn, order_id, Status.CANCELLED)
                if event is not None and self.events is not None:
                    await self.events.announce(event)
        # Read after the compare-and-set: a fire or an expiry that won it shows here, as the stream shows.
        detail = await self.get(order_id, client=client)
        if detail.status != Status.CANCELLED:
            raise NotCancellable(detail.status)
        return detail

    async def quote(self, request: OrderRequest) -> QuoteView:
        """Every venue's quote and the route an order would take now, without creating one."""
        await self._learn(request.token_in, request.token_out)
        order = validate(request, self.settings.default_slippage_bps)
        async with self.db.connection() as conn:
            state = await read_pools(conn, order.side.pair, self.parsed)
        now = int(time.time())
        current = settled(state, self.settings, now)
        try:
            decision = decide(
                current, order.side, order.token_in, order.token_out, order.amount_in, order.slippage_bps, now
            )
        except NoRoute:
            raise InvalidOrder("amountIn", "more than the venues' pools can fill") from None
        return QuoteView(
            token_in=order.token_in.symbol,
            token_out=order.token_out.symbol,
            amount_in=order.amount_in,
            slippage_bps=order.slippage_bps,
            quotes=decision.quotes,
            dex_chosen=decision.dex_chosen,
            route=decision.legs,
            expected_amount_out=decision.expected_out,
            min_amount_out=decision.min_amount_out,
        )

    async def get(self, order_id: uuid.UUID, *, client: str) -> OrderDetail:
        """The order with its events; another client's order does not exist for this one."""
        async with self.db.connection() as conn:
            row = await fetch_order(conn, order_id, client)
            if row is None:
                raise OrderNotFound(str(order_id))
            events = await read_events(conn, order_id)
        return OrderDetail.model_validate({**_view_fields(row), "events": [e.frame() for e in events]})

    async def list(self, *, client: str, status: Status | None, cursor: str | None, limit: int) -> OrderPage:
        """A page of the client's orders, newest first."""
        before = decode_cursor(cursor) if cursor else None
        async with self.db.connection() as conn:
            rows = await repository.list_orders(
                conn, client=client, status=status, before=before, limit=limit + 1
            )
        views = [OrderView.model_validate(_view_fields(r)) for r in rows[:limit]]
        next_cursor = encode_cursor(views[-1].created_at, views[-1].order_id) if len(rows) > limit else None
        return OrderPage(orders=views, next_cursor=next_cursor)
