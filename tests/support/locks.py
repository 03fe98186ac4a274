"""Waiting for a backend to wait on a lock: the one state a test must ask Postgres about again and again."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine


async def until_waiting(
    engine: AsyncEngine, query: str, what: str, params: Mapping[str, Any] | None = None, within: float = 10
) -> None:
    """Return once ``query`` (a count, or a boolean, of backends waiting on a lock) is true.

    Postgres announces no "started waiting for a lock" event: asking again is the only way, and this is
    not a sleep standing in for one. Fails the test, naming ``what``, after ``within`` seconds.
    """
    statement = sa.text(query)
    try:
        async with asyncio.timeout(within):
            while True:
                async with engine.connect() as conn:
                    if (await conn.execute(statement, dict(params or {}))).scalar():
                        return
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"not within {within}s: {what}") from None
