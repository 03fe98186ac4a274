"""The Postgres schema as SQLModel tables; Alembic migrations are written from these."""

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


class Order(SQLModel, table=True):
    """One market order, as the read model shows it; `order_events` holds its history."""

    __tablename__ = "orders"
    __table_args__ = (
        sa.UniqueConstraint("client", "idempotency_key", name="uq_orders_client_idempotency_key"),
        sa.CheckConstraint(
            "status IN ('pending', 'routing', 'building', 'submitted', 'confirmed', 'failed')",
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
            postgresql_where=sa.text("status NOT IN ('confirmed', 'failed')"),
        ),
        sa.Index("ix_orders_unenqueued", "created_at", postgresql_where=sa.text("enqueued_at IS NULL")),
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


class OrderEvent(SQLModel, table=True):
    """One step of an order's life; (order_id, seq) is the stream clients follow."""

    __tablename__ = "order_events"

    order_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    )
    seq: int = Field(sa_column=sa.Column(sa.Integer, primary_key=True, autoincrement=False))
    status: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    detail: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(JSONB, nullable=False, server_default="{}")
    )
    created_at: datetime = Field(sa_column=_ts())


class Execution(SQLModel, table=True):
    """The simulated chain's ledger: at most one swap per order, found again by its signature."""

    __tablename__ = "executions"

    order_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    )
    signature: str = Field(sa_column=sa.Column(sa.Text, nullable=False, unique=True))
    venue: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    amount_in: Decimal = Field(sa_column=sa.Column(sa.Numeric, nullable=False))
    amount_out: Decimal = Field(sa_column=sa.Column(sa.Numeric, nullable=False))
    slot: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    executed_at: datetime = Field(sa_column=_ts())


orders_table: sa.Table = Order.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
events_table: sa.Table = OrderEvent.__table__  # type: ignore[attr-defined]
executions_table: sa.Table = Execution.__table__  # type: ignore[attr-defined]
metadata = SQLModel.metadata
