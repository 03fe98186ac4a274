"""Launches and sniper orders: the `tokens` table of launched tokens, pools.opens_at, orders.max_price, the
open snipers indexed by token, and api_keys.admin

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN_SNIPERS = "status = 'open' AND type = 'sniper'"


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("mint", sa.Text(), nullable=False),
        sa.Column("decimals", sa.Integer(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("price", sa.Numeric(), nullable=False),
        sa.Column("liquidity", sa.Numeric(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("symbol"),
        sa.UniqueConstraint("mint"),
    )
    op.add_column("pools", sa.Column("opens_at", sa.BigInteger(), nullable=True))
    op.add_column("orders", sa.Column("max_price", sa.Numeric(), nullable=True))
    op.create_index(
        "ix_orders_open_snipers",
        "orders",
        ["token_out", "created_at", "id"],
        unique=False,
        postgresql_where=sa.text(_OPEN_SNIPERS),
    )
    op.add_column("api_keys", sa.Column("admin", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column("api_keys", "admin")
    op.drop_index("ix_orders_open_snipers", table_name="orders", postgresql_where=sa.text(_OPEN_SNIPERS))
    op.drop_column("orders", "max_price")
    op.drop_column("pools", "opens_at")
    op.drop_table("tokens")
