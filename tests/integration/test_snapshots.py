"""The notifier's reads against the real Postgres: many follows, or a socket's resync, in one query."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from orders_notifier.repository import read_snapshots
from orders_shared.db import Database
from orders_shared.repository import events_after, read_events
from tests.support.orders import new_order, to_submitted

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLIENT = "snapshot-tests"


async def test_each_follow_gets_its_own_snapshot_in_the_order_asked(
    engine: AsyncEngine, db: Database
) -> None:
    submitted, pending = await new_order(engine, CLIENT), await new_order(engine, CLIENT)
    await to_submitted(db, submitted)
    someone_elses = await new_order(engine, "another-client")
    follows = [
        (submitted, 0),
        (uuid.uuid4(), 0),  # no such order
        (pending, 0),
        (someone_elses, 0),  # not this client's: as if it did not exist
        (submitted, 2),  # the same order again, from further on
        (pending, 1),  # nothing after seq 1 yet
    ]
    async with db.connection() as pg:
        snapshots = await read_snapshots(pg, follows, CLIENT)
    assert [
        None if s is None else (s.status.value, s.last_seq, [(e.seq, e.status.value) for e in s.events])
        for s in snapshots
    ] == [
        ("submitted", 4, [(1, "pending"), (2, "routing"), (3, "building"), (4, "submitted")]),
        None,
        ("pending", 1, [(1, "pending")]),
        None,
        ("submitted", 4, [(3, "building"), (4, "submitted")]),
        ("pending", 1, []),
    ]
    first = snapshots[0]
    assert first is not None
    assert all(e.order_id == submitted for e in first.events)


async def test_resync_reads_every_order_after_its_own_seq_as_one_by_one(
    engine: AsyncEngine, db: Database
) -> None:
    first, second = await new_order(engine, CLIENT), await new_order(engine, CLIENT)
    await to_submitted(db, first)
    await to_submitted(db, second)
    wanted = [(first, 3), (second, 0), (uuid.uuid4(), 0), (first, 4)]
    async with db.connection() as pg:
        together = await events_after(pg, wanted)
        one_by_one = [await read_events(pg, order_id, after) for order_id, after in wanted]
    assert [[e.frame() for e in events] for events in together] == [
        [e.frame() for e in events] for events in one_by_one
    ]
    assert [[e.seq for e in events] for events in together] == [[4], [1, 2, 3, 4], [], []]
