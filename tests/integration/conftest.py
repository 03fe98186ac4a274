"""Fixtures of the integration tests: the Database the services use; a database and a
vhost of a module's own, for tests of what acts on every row or message it finds (relay, sweeper)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from aio_pika.abc import AbstractChannel, AbstractQueue
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_shared.amqp import connect
from orders_shared.db import Database
from orders_shared.metrics import Metrics, create_metrics
from orders_shared.topology import EXECUTE_KEY, ORDERS_EXCHANGE, declare
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


@pytest_asyncio.fixture(loop_scope="session")
async def tap(own_channel: AbstractChannel) -> AsyncIterator[AbstractQueue]:
    """A queue of this test's own that receives a copy of every execute message on the module's vhost."""
    queue = await own_channel.declare_queue(exclusive=True)
    await queue.bind(ORDERS_EXCHANGE, EXECUTE_KEY)
    yield queue
    await queue.delete(if_unused=False, if_empty=False)


@pytest.fixture
def registry() -> CollectorRegistry:
    """A registry of this test's own, so counters start at zero."""
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> Metrics:
    """The services' metrics on ``registry``."""
    return create_metrics(registry)
