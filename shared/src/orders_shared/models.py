"""The Postgres schema, declared once: SQLModel tables that Alembic reads (a test compares them with the
migrated database). Runtime queries are SQL text in each service's repository module, not these classes."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


def _ts(*, nullable: bool = False, default_now: bool = True) -> Any:
    return sa.Column(
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=sa.func.now() if default_now else None,
    )


def _order_id() -> Any:
    """The key of a row that belongs to one order and goes with it."""
    return sa.Column(sa.Uuid, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)


class OrderRow(SQLModel, table=True):
    """A row of `orders`: one order, as the read model shows it; `order_events` holds its history."""

    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("client", "idempotency_key", name="uq_orders_client_idempotency_key"),
        sa.CheckConstraint(
            "status IN ('pending', 'open', 'routing', 'building', 'submitted', 'confirmed', 'failed', "
            "'cancelled', 'expired')",
            name="ck_orders_status",
        ),
        sa.CheckConstraint("amount_in > 0", name="ck_orders_amount_in_positive"),
        sa.Index("ix_orders_client_created", "client", sa.text("created_at DESC"), sa.text("id DESC")),
        sa.Index(
            "ix_orders_client_status_created",
            "client",
            "status",
            sa.text("created_at DESC"),
            sa.text("id DESC"),
        ),
        sa.Index(
            "ix_orders_active_updated",
            "updated_at",
            postgresql_where=sa.text("status NOT IN ('confirmed', 'failed', 'cancelled', 'expired')"),
        ),
        sa.Index("ix_orders_unenqueued", "created_at", postgresql_where=sa.text("enqueued_at IS NULL")),
        # The trigger's look-up: a pair's waiting orders that a price could satisfy, cheapest first.
        sa.Index(
            "ix_orders_open_pair_price",
            "token_in",
            "token_out",
            "limit_price",
            postgresql_where=sa.text("status = 'open'"),
        ),
        sa.Index("ix_orders_open_expires", "expires_at", postgresql_where=sa.text("status = 'open'")),
        # The snipers waiting for a token, in the order they land: submission order.
        sa.Index(
            "ix_orders_open_snipers",
            "token_out",
            "created_at",
            "id",
            postgresql_where=sa.text("status = 'open' AND type = 'sniper'"),
        ),
    )

    id: uuid.UUID = Field(primary_key=True)
    client: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    idempotency_key: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # Hash of the canonical request body: a replayed Idempotency-Key must come with the same body.
    request_hash: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    type: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    token_in: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    token_out: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    amount_in: Decimal = Field(sa_column=sa.Column(sa.Numeric, nullable=False))
    slippage_bps: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    status: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    attempt: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0"))
    # The seq of the newest event: bumped in the same UPDATE that changes the status, so seqs have no gaps.
    last_seq: int = Field(default=1, sa_column=sa.Column(sa.Integer, nullable=False, server_default="1"))
    route: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONB, nullable=True))
    tx_hash: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    amount_out: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric, nullable=True))
    executed_price: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric, nullable=True))
    failure_code: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    failure_reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
    enqueued_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True, default_now=False))
    # A limit order's worst average price (tokenOut per tokenIn) and when it stops waiting; NULL for market.
    limit_price: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric, nullable=True))
    expires_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True, default_now=False))
    # A sniper order's worst average price paid (tokenIn per tokenOut); NULL when it set none.
    max_price: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric, nullable=True))


class OrderEventRow(SQLModel, table=True):
    """A row of `order_events`: one step of an order's life; (order_id, seq) is the stream clients follow."""

    __tablename__ = "order_events"

    order_id: uuid.UUID = Field(sa_column=_order_id())
    seq: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    status: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    detail: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONB, nullable=False, server_default="{}")
    )
    created_at: datetime = Field(sa_column=_ts())


class ExecutionRow(SQLModel, table=True):
    """A row of `executions`, the simulated chain's ledger: at most one swap per order, found by signature."""

    __tablename__ = "executions"

    order_id: uuid.UUID = Field(sa_column=_order_id())
    signature: str = Field(sa_column=sa.Column(sa.Text, nullable=False, unique=True))
    venue: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    amount_in: Decimal = Field(sa_column=sa.Column(sa.Numeric, nullable=False))
    amount_out: Decimal = Field(sa_column=sa.Column(sa.Numeric, nullable=False))
    slot: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    executed_at: datetime = Field(sa_column=_ts())


class ApiKeyRow(SQLModel, table=True):
    """A row of `api_keys`: a key's id, the digest of its secret, its client; never the key itself."""

    __tablename__ = "api_keys"

    key_id: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    secret_sha256: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    client: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    name: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(sa_column=_ts())
    last_used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True, default_now=False))
    revoked: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    # An operator's key: it may also launch tokens (POST /api/admin/launches).
    admin: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )


class PoolRow(SQLModel, table=True):
    """A row of `pools`: one pair's venue pools, so every worker trades the same liquidity."""

    __tablename__ = "pools"

    pair: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    state: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    synced_at: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    origin: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    # Bumped by every write: a reader that holds this version's pools parsed need not parse them again.
    version: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False, server_default="0"))
    # A launched pair's opening (unix s): nothing trades it before. NULL for the seeded pairs.
    opens_at: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))


class TokenRow(SQLModel, table=True):
    """A row of `tokens`: a launched token, its pair's quote token and the terms its pool opened with."""

    __tablename__ = "tokens"

    symbol: str = Field(sa_column=sa.Column(sa.Text, primary_key=True))
    mint: str = Field(sa_column=sa.Column(sa.Text, nullable=False, unique=True))
    decimals: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    quote: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # Quote per token at the opening (the reference the market's walk starts from), and the quote deposited.
    price: Decimal = Field(sa_column=sa.Column(sa.Numeric, nullable=False))
    liquidity: Decimal = Field(sa_column=sa.Column(sa.Numeric, nullable=False))
    opens_at: datetime = Field(sa_column=_ts(default_now=False))
    created_at: datetime = Field(sa_column=_ts())


metadata = SQLModel.metadata
# The tables as SQLAlchemy Core objects, for migrations and for tests that read what the services wrote.
orders_table: sa.Table = metadata.tables["orders"]
events_table: sa.Table = metadata.tables["order_events"]
executions_table: sa.Table = metadata.tables["executions"]
api_keys_table: sa.Table = metadata.tables["api_keys"]
pools_table: sa.Table = metadata.tables["pools"]
tokens_table: sa.Table = metadata.tables["tokens"]
