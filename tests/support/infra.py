"""A database and a RabbitMQ vhost of the test run's own, dropped at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy import pool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orders_shared.amqp import connect
from orders_shared.migrate import create_database, sqlalchemy_url, upgrade

ADMIN_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_BASE = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


@contextmanager
def throwaway_database(prefix: str = "orders_test", *, migrated: bool = True) -> Iterator[str]:
    """A fresh database, migrated to head unless ``migrated`` is False (so the migration is tested too);
    dropped afterwards."""
    url = make_url(ADMIN_DATABASE_URL).set(database=f"{prefix}_{uuid.uuid4().hex[:12]}")
    database_url = url.render_as_string(hide_password=False)
    create_database(database_url)
    try:
        if migrated:
            upgrade(database_url)
        yield database_url
    finally:
        admin = sa.create_engine(
            sqlalchemy_url(ADMIN_DATABASE_URL), isolation_level="AUTOCOMMIT", poolclass=pool.NullPool
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


def _rabbitmqctl(*args: str) -> None:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def throwaway_vhost(prefix: str = "orders-test") -> Iterator[str]:
    """A fresh RabbitMQ vhost the guest user may use; deleted afterwards. Yields its AMQP URL."""
    vhost = f"{prefix}-{uuid.uuid4().hex[:12]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"{AMQP_BASE.rstrip('/')}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@asynccontextmanager
async def vhost_connection(prefix: str, name: str) -> AsyncIterator[AbstractRobustConnection]:
    """A connection called ``name`` to a throwaway vhost of its own; closed, and the vhost deleted, after."""
    with throwaway_vhost(prefix) as url:
        connection = await connect(url, name=name)
        try:
            yield connection
        finally:
            await connection.close()


def reader_engine(database_url: str, *, pool_size: int = 2) -> AsyncEngine:
    """A SQLAlchemy engine for tests and tools that read back what the services stored, by the schema's
    tables (`orders_shared.models`); the services themselves reach Postgres through `Database`."""
    return create_async_engine(
        sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"application_name": "orders-tests", "connect_timeout": 3},
    )
