"""Fixtures of the integration tests: the Database the services use; a database and a
vhost of a module's own, for tests of what acts on every row or message it finds (relay, sweeper)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractChannel
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.amqp import connect
from orders_shared.db import Database
from orders_shared.topology import declare
from tests.support.infra import reader_engine, throwaway_database, throwaway_vhost


def _module(request: pytest.FixtureRequest) -> str:
    return str(request.module.__name__).rsplit(".", 1)[-1].removeprefix("test_")


@pytest.fixture(scope="module")
def own_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of the module's own: the stack the e2e tests run relays and sweeps the shared one."""
    with throwaway_database(f"orders_{_module(request)}") as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def own_engine(own_database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    """An engine on the module's own database."""
    engine = reader_engine(own_database_url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def own_channel(request: pytest.FixtureRequest) -> AsyncIterator[AbstractChannel]:
    """A channel with confirms and the topology declared, on a vhost of the module's own, so no running
    worker consumes what the tests read back."""
    with throwaway_vhost(f"orders-{_module(request)}") as url:
        connection = await connect(url, name=f"{_module(request)}-tests")
        channel = await connection.channel(publisher_confirms=True)
        await declare(channel)
        yield channel
        await connection.close()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    """This run's database as the services reach it: a `Database` of autocommit connections."""
    async with Database(database_url, size=4, application_name="orders-tests") as database:
        yield database


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def own_db(own_database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    """The module's own database as the services reach it."""
    name = f"{_module(request)}-tests"
    async with Database(own_database_url, size=4, application_name=name) as database:
        yield database
