"""orders.request_hash: the body an Idempotency-Key was first used with

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("request_hash", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "request_hash")
