"""orders, order_events and executions

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _create_orders()
    _create_order_indexes()
    _create_executions()
    _create_order_events()


def _create_orders() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("token_in", sa.Text(), nullable=False),
        sa.Column("token_out", sa.Text(), nullable=False),
        sa.Column("amount_in", sa.Numeric(), nullable=False),
        sa.Column("slippage_bps", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_seq", sa.Integer(), server_default="1", nullable=False),
        sa.Column("route", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("tx_hash", sa.Text(), nullable=True),
        sa.Column("amount_out", sa.Numeric(), nullable=True),
        sa.Column("executed_price", sa.Numeric(), nullable=True),
        sa.Column("failure_code", sa.Text(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client", "idempotency_key", name="uq_orders_client_idempotency_key"),
        sa.CheckConstraint(
            "status IN ('pending', 'routing', 'building', 'submitted', 'confirmed', 'failed')",
            name="ck_orders_status",
        ),
        sa.CheckConstraint("amount_in > 0", name="ck_orders_amount_in_positive"),
    )


def _create_order_indexes() -> None:
    op.create_index(
        "ix_orders_active_updated",
        "orders",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("status NOT IN ('confirmed', 'failed')"),
    )
    op.create_index(
        "ix_orders_client_created",
        "orders",
        ["client", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_orders_client_status_created",
        "orders",
        ["client", "status", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_orders_unenqueued",
        "orders",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("enqueued_at IS NULL"),
    )


def _create_executions() -> None:
    op.create_table(
        "executions",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("amount_in", sa.Numeric(), nullable=False),
        sa.Column("amount_out", sa.Numeric(), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("executed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id"),
        sa.UniqueConstraint("signature"),
    )


def _create_order_events() -> None:
    op.create_table(
        "order_events",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("order_events")
    op.drop_table("executions")
    op.drop_index(
        "ix_orders_unenqueued", table_name="orders", postgresql_where=sa.text("enqueued_at IS NULL")
    )
    op.drop_index("ix_orders_client_status_created", table_name="orders")
    op.drop_index("ix_orders_client_created", table_name="orders")
    op.drop_index(
        "ix_orders_active_updated",
        table_name="orders",
        postgresql_where=sa.text("status NOT IN ('confirmed', 'failed')"),
    )
    op.drop_table("orders")
