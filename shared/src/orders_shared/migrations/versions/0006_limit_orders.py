"""Limit orders: the statuses open, cancelled and expired; orders.limit_price and orders.expires_at; the
open orders indexed by pair and price (the trigger) and by expiry; the new terminal statuses out of the
index of unfinished orders

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUSES = "'pending', 'routing', 'building', 'submitted', 'confirmed', 'failed'"
_NEW_STATUSES = (
    "'pending', 'open', 'routing', 'building', 'submitted', 'confirmed', 'failed', 'cancelled', 'expired'"
)


def _active_index(finished: str) -> None:
    """The sweeper's index of unfinished orders, re-made for the set of terminal statuses ``finished``."""
    op.drop_index("ix_orders_active_updated", table_name="orders")
    op.create_index(
        "ix_orders_active_updated",
        "orders",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text(f"status NOT IN ({finished})"),
    )


def upgrade() -> None:
    # Cancelled and expired orders are finished too: they leave the index of unfinished ones.
    _active_index("'confirmed', 'failed', 'cancelled', 'expired'")
    op.add_column("orders", sa.Column("limit_price", sa.Numeric(), nullable=True))
    op.add_column("orders", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint("ck_orders_status", "orders", type_="check")
    op.create_check_constraint("ck_orders_status", "orders", f"status IN ({_NEW_STATUSES})")
    op.create_index(
        "ix_orders_open_pair_price",
        "orders",
        ["token_in", "token_out", "limit_price"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_orders_open_expires",
        "orders",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_open_expires", table_name="orders", postgresql_where=sa.text("status = 'open'"))
    op.drop_index(
        "ix_orders_open_pair_price", table_name="orders", postgresql_where=sa.text("status = 'open'")
    )
    op.drop_constraint("ck_orders_status", "orders", type_="check")
    op.create_check_constraint("ck_orders_status", "orders", f"status IN ({_OLD_STATUSES})")
    op.drop_column("orders", "expires_at")
    op.drop_column("orders", "limit_price")
    _active_index("'confirmed', 'failed'")
