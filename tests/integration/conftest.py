"""Fixtures of the integration tests: a psycopg pool like the worker's and notifier's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from orders_shared.db import create_pool


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[AsyncConnection[Any]]]:
    """Autocommit connections on this run's database, as the services' hot paths take them."""
    async with create_pool(database_url, size=4, application_name="orders-tests") as pool:
        yield pool
