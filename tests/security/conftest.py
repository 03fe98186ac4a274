"""A stack with API keys required and small budgets, and keys made with the real CLI."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

import pytest
import pytest_asyncio

from tests.conftest import StackFactory
from tests.support.services import BIN, Stack

KeyMaker = Callable[..., tuple[str, str]]


@pytest_asyncio.fixture(scope="module")
async def secured(make_stack_module: StackFactory) -> Stack:
    """api, worker and notifier with AUTH_REQUIRED and tight limits, on a database of their own."""
    return await make_stack_module(
        own_database=True,
        AUTH_REQUIRED="true",
        RATE_LIMIT_ORDERS_PER_S="1",
        RATE_LIMIT_ORDERS_BURST="5",
        RATE_LIMIT_READS_PER_S="1000",
        RATE_LIMIT_READS_BURST="1000",
        WS_MAX_CONNECTIONS_PER_CLIENT="3",
        WS_MAX_SUBSCRIPTIONS="4",
        WS_MAX_MESSAGES_PER_S="2",
        VENUE_QUOTE_LATENCY_MS="5-10",
        VENUE_EXECUTE_LATENCY_MS="20-50",
    )


def run_cli(stack: Stack, *args: str) -> str:
    """`orders-api-key …` against the stack's database; its output."""
    result = subprocess.run(
        [str(BIN / "orders-api-key"), *args],
        env={**os.environ, "DATABASE_URL": stack.env["DATABASE_URL"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


@pytest.fixture(scope="module")
def make_key(secured: Stack) -> KeyMaker:
    """Create a key with the CLI: returns (key id, key)."""

    def make(name: str = "test", client: str | None = None) -> tuple[str, str]:
        out = run_cli(secured, "create", name, *(["--client", client] if client else []))
        fields = dict(
            line.split(":", 1) for line in out.splitlines() if ":" in line and not line.startswith("This")
        )
        return fields["key id"].strip(), fields["key"].strip()

    return make
