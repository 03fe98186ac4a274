"""What the api does with orders: check them against the process's catalog, store them, read them back."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from orders_api import repository
from orders_api.announce import EventAnnouncer
from orders_api.ingest import OrderWriter
from orders_api.repository import LimitTerms, NewOrder
from orders_api.schemas import OrderDetail, OrderPage, OrderRequest, OrderType, OrderView, QuoteView
from orders_api.settings import ApiSettings
from orders_api.validation import validate, validate_sniper
from orders_api.waiting import Waiting, why_waiting
from orders_shared.contracts import RouteLeg
from orders_shared.db import Conn, Database
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
from orders_venues import Catalog


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
    "amount_out", "executed_price", "failure_code", "failure_reason", "limit_price", "max_price",
    "expires_at", "created_at", "updated_at",
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


@dataclass(frozen=True, slots=True)
class _Intake:
    """What every order type's submission records of the request: a new id, the fields it ignored, and
    the key and body digest that make a replay return the first order."""

    order_id: uuid.UUID
    client: str
    idempotency_key: str | None
    body_hash: str | None
    ignored: list[str]

    @classmethod
    def of(cls, request: OrderRequest, client: str, idempotency_key: str | None) -> _Intake:
        """A new order id for ``request``; its body's digest only when a key may replay it."""
        body_hash = request_hash(request) if idempotency_key else None
        return cls(uuid.uuid4(), client, idempotency_key, body_hash, request.ignored_fields())


@dataclass(slots=True)
class OrderService:
    """Submits and reads orders; one instance per process, built in the lifespan."""

    db: Database
    writer: OrderWriter
    metrics: Metrics
    settings: ApiSettings
    # The tokens and pairs this process knows, launched ones included (the lifespan's one).
    catalog: Catalog
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
        order = validate(request, self.settings.default_slippage_bps, self.catalog)
        intake = _Intake.of(request, client, idempotency_key)
        new = NewOrder(
            order_id=intake.order_id,
            client=client,
            token_in=order.token_in.symbol,
            token_out=order.token_out.symbol,
            amount_in=order.amount_in,
            slippage_bps=order.slippage_bps,
            idempotency_key=idempotency_key,
            request_hash=intake.body_hash,
        )
        if order.limit is not None:
            created = await self._store_limit(new, order.limit)
        else:
            created = await self.writer.write(new)
        return await self._accepted(intake, created)

    async def _learn(self, *names: str) -> None:
        """Read from Postgres the tokens this process does not know yet (launched since it last heard)."""
        missing = [name for name in names if self.catalog.find_token(name) is None]
        if missing:
            async with self.db.connection() as conn:
                for name in missing:
                    await resolve(conn, self.catalog, name)

    async def _submit_sniper(
        self, request: OrderRequest, *, client: str, idempotency_key: str | None
    ) -> Submitted:
        """Store a sniper order `open` with its `pending` and `open` events; the worker fires it when its
        pool opens."""
        order = validate_sniper(request, self.settings.default_slippage_bps, self.catalog)
        intake = _Intake.of(request, client, idempotency_key)
        new = NewSniper(
            order_id=intake.order_id,
            client=client,
            idempotency_key=idempotency_key,
            request_hash=intake.body_hash,
            token_in=order.token_in.symbol,
            token_out=order.token_out,
            amount_in=order.amount_in,
            slippage_bps=order.slippage_bps,
            max_price=order.max_price,
            expires_at=order.expires_at,
        )
        async with self.db.connection() as conn:
            created = await insert_sniper_order(conn, new)
        return await self._accepted(intake, created)

    async def _accepted(self, intake: _Intake, created: bool) -> Submitted:
        """The new order counted; or, if the Idempotency-Key refused it, the order the key created first,
        if this request's body is the same."""
        if created:
            self.metrics.orders_accepted.inc()
            if intake.ignored:
                self.metrics.ignored_fields.inc(len(intake.ignored))
            return Submitted(intake.order_id, intake.ignored, created=True)
        assert intake.idempotency_key is not None  # only the key's unique constraint can refuse the row
        async with self.db.connection() as conn:
            first = await repository.find_by_idempotency_key(conn, intake.client, intake.idempotency_key)
        if first is None or first.request_hash != intake.body_hash:
            raise IdempotencyConflict("this Idempotency-Key was used with a different body")
        return Submitted(first.id, intake.ignored, created=False)

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
        order = validate(request, self.settings.default_slippage_bps, self.catalog)
        async with self.db.connection() as conn:
            state = await read_pools(conn, order.side.pair, self.parsed, self.catalog)
        now = int(time.time())
        current = settled(state, self.settings, now, self.catalog)
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
            waiting = await self._waiting(conn, row) if row.status == Status.OPEN else None
        extra = {"current_price": waiting.current_price, "waiting_reason": waiting.reason} if waiting else {}
        return OrderDetail.model_validate(
            {**_view_fields(row), **extra, "events": [e.frame() for e in events]}
        )

    async def _waiting(self, conn: Conn, row: OrderRow) -> Waiting:
        """Why the open order has not fired: its price now on the pair's pools (parsed once per version)."""
        return await why_waiting(conn, row, self.parsed, self.settings, self.catalog)

    async def list(
        self,
        *,
        client: str,
        status: Status | None,
        cursor: str | None,
        limit: int,
        order_type: OrderType | None = None,
    ) -> OrderPage:
        """A page of the client's orders (of one type, in one status, when asked), newest first."""
        before = decode_cursor(cursor) if cursor else None
        kind = order_type.value if order_type is not None else None
        async with self.db.connection() as conn:
            rows = await repository.list_orders(
                conn, client=client, status=status, before=before, limit=limit + 1, order_type=kind
            )
        views = [OrderView.model_validate(_view_fields(r)) for r in rows[:limit]]
        next_cursor = encode_cursor(views[-1].created_at, views[-1].order_id) if len(rows) > limit else None
        return OrderPage(orders=views, next_cursor=next_cursor)
