"""Fixtures of the whole suite: each run gets its own database and RabbitMQ vhost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest
import pytest_asyncio
from hypothesis import settings as hypothesis_settings
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.infra import reader_engine, throwaway_database, throwaway_vhost
from tests.support.services import Service, Stack, running_stack, start_service, until_ready

# Properties are what the hypothesis tests check, not speed: a per-example deadline would only make them
# flaky on a slow CI machine (`make bench` measures speed).
hypothesis_settings.register_profile("orders", deadline=None)
hypothesis_settings.load_profile("orders")

# Fast venues: the flow is what e2e tests check, not the assignment's latencies.
FAST_VENUES = {"VENUE_QUOTE_LATENCY_MS": "5-20", "VENUE_EXECUTE_LATENCY_MS": "20-60"}
# The open API and no practical rate limit, unless a test asks for them (tests/security does).
OPEN = {
    "AUTH_REQUIRED": "false",
    "RATE_LIMIT_ORDERS_PER_S": "100000",
    "RATE_LIMIT_ORDERS_BURST": "100000",
    "RATE_LIMIT_READS_PER_S": "100000",
    "RATE_LIMIT_READS_BURST": "100000",
}


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """This run's database, migrated to head."""
    with throwaway_database() as url:
        yield url


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """This run's RabbitMQ vhost."""
    with throwaway_vhost() as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on this run's database."""
    engine = reader_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def stack(database_url: str, amqp_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """api, worker and notifier as real processes on free ports, sharing this run's database and vhost."""
    env = {"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "LOG_LEVEL": "info", **OPEN, **FAST_VENUES}
    log_dir: Path = tmp_path_factory.mktemp("services")
    with running_stack(env, log_dir) as running:
        yield running


class StackFactory(Protocol):
    """Builds a stack of its own for one test, and adds processes to it; awaited, so the loop runs on."""

    async def __call__(
        self, names: tuple[str, ...] = ..., *, own_database: bool = ..., **settings: str
    ) -> Stack: ...

    async def add(self, stack: Stack, name: str, key: str | None = None) -> Service: ...


@dataclass
class _Stacks:
    """A StackFactory: each stack on a vhost (and database, if asked) of its own; ``cleanup`` stops all."""

    database_url: str
    log_dir: Path
    cleanup: ExitStack

    async def __call__(
        self,
        names: tuple[str, ...] = ("api", "worker", "notifier"),
        *,
        own_database: bool = False,
        **settings: str,
    ) -> Stack:
        amqp_url = self.cleanup.enter_context(throwaway_vhost("orders-stack"))
        db = (
            self.cleanup.enter_context(throwaway_database("orders_stack"))
            if own_database
            else self.database_url
        )
        env = {"DATABASE_URL": db, "AMQP_URL": amqp_url, "LOG_LEVEL": "info", **OPEN, **settings}
        stack = Stack(env=env)
        for name in names:
            await self.add(stack, name)
        return stack

    async def add(self, stack: Stack, name: str, key: str | None = None) -> Service:
        service = start_service(name, stack.env, self.log_dir)
        self.cleanup.callback(_stop_quietly, service)
        stack.services[key or name] = service
        await until_ready(service)
        return service


@contextmanager
def _stacks(database_url: str, tmp_path: Path) -> Iterator[StackFactory]:
    """Build stacks of their own with extra settings; stopped after the test."""
    with ExitStack() as cleanup:
        yield _Stacks(database_url, tmp_path, cleanup)


def _stop_quietly(service: Service) -> None:
    if service.process.poll() is None:
        service.process.kill()
        service.process.wait()


@pytest.fixture
def make_stack(database_url: str, tmp_path: Path) -> Iterator[StackFactory]:
    """Stacks for one test."""
    with _stacks(database_url, tmp_path) as factory:
        yield factory


@pytest.fixture(scope="module")
def make_stack_module(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackFactory]:
    """Stacks shared by a module's tests."""
    with _stacks(database_url, tmp_path_factory.mktemp("stacks")) as factory:
        yield factory
