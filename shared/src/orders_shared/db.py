"""Postgres at run time: one `Database` per process, a pool of psycopg connections in autocommit.

Every service reaches Postgres this way; the statements themselves are SQL text in the service's
repository module, prepared by psycopg on the connections that run them often. (Alembic, at migration
time, is the one user of SQLAlchemy.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType

import psycopg
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool

from orders_shared.reach import wait_for_postgres
from orders_shared.settings import CommonSettings

Conn = psycopg.AsyncConnection[TupleRow]


class Database:
    """A service's connections to Postgres; open it in the lifespan (``async with Database(...) as db``).

    Checking a connection out costs ~6 µs of CPU (SQLAlchemy's engine: ~60 µs), and a worker checks out
    several per order. Connections are in autocommit: a one-statement step needs no BEGIN/COMMIT; use
    `transaction` for more than one.
    """

    def __init__(
        self,
        url: str,
        *,
        size: int,
        application_name: str,
        timeout_s: float = 3.0,
        startup_timeout_s: float | None = None,
    ) -> None:
        """``startup_timeout_s``: how long `open` first waits for Postgres to answer; None: not at all."""
        self.application_name = application_name
        self._url = url
        self._startup_timeout_s = startup_timeout_s
        self._pool = AsyncConnectionPool(
            url,
            connection_class=psycopg.AsyncConnection[TupleRow],
            min_size=size,
            max_size=size,
            # A request that cannot get a connection in time fails (and is retried), never queues forever.
            timeout=timeout_s,
            kwargs={"autocommit": True, "application_name": application_name, "connect_timeout": 3},
            open=False,
            name=application_name,
        )

    @classmethod
    def for_service(cls, settings: CommonSettings, application_name: str) -> Database:
        """The service's database as its settings say: DATABASE_URL, DB_POOL_SIZE, STARTUP_TIMEOUT_S."""
        return cls(
            str(settings.database_url),
            size=settings.db_pool_size,
            application_name=application_name,
            startup_timeout_s=settings.startup_timeout_s,
        )

    async def open(self) -> None:
        """Open the pool and wait until its connections are made (fails if Postgres does not answer).

        With a start-up timeout, Postgres is first waited for, with one log line per failed attempt, and
        `orders_shared.reach.Unreachable` says why when it does not answer in time.
        """
        if self._startup_timeout_s is not None:
            await wait_for_postgres(
                self._url, self._startup_timeout_s, application_name=self.application_name
            )
        await self._pool.open(wait=True)

    async def close(self) -> None:
        """Close every connection."""
        await self._pool.close()

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        """A connection; one found dead makes the pool test all its others before they are used.

        After Postgres restarts, every idle connection is dead. The pool only drops a connection once a
        request has failed on it; checking them all on the first failure means one request fails, not
        one per pooled connection.
        """
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.OperationalError:
            await self._pool.check()
            raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A connection inside a transaction: committed when the block ends, rolled back if it raises."""
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def dedicated(self, purpose: str) -> Conn:
        """A connection of its own, outside the pool, in autocommit; the caller closes it. For what lives
        as long as a connection does (a session advisory lock), not for queries a pooled one can run."""
        return await psycopg.AsyncConnection.connect(
            self._url,
            autocommit=True,
            application_name=f"{self.application_name}-{purpose}",
            connect_timeout=3,
        )

    async def ping(self) -> None:
        """Raise unless Postgres answers a query."""
        async with self.connection() as conn:
            await conn.execute("SELECT 1")


__all__ = ["Conn", "Database"]
