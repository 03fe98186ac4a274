"""Alembic environment: runs migrations online against the URL the caller put in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from orders_shared.migrate import sqlalchemy_url
from orders_shared.models import metadata

config = context.config


def run_migrations_online() -> None:
    """Run every pending migration in one transaction."""
    url = sqlalchemy_url(config.get_main_option("sqlalchemy.url") or "")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
