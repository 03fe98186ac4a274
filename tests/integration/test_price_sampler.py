"""The api's price sampler against the real Postgres: the pairs come from the `pools` table, one point per
pair per pass, and a pair it cannot read holds up none of the others."""

from __future__ import annotations

import pytest
from psycopg.types.json import Jsonb

from orders_api.market_prices import MarketPrices, UnknownPair
from orders_api.settings import ApiSettings
from orders_shared.db import Database
from orders_shared.pools import dump
from orders_shared.repository import seed_pools
from orders_venues import PAIRS, Catalog, default_pools

pytestmark = pytest.mark.asyncio(loop_scope="session")

# A pools row naming a token this process does not know, as a launch another version added could.
_UNKNOWN_TOKEN = "INSERT INTO pools (pair, state, synced_at, origin) VALUES ('ZZZ/SOL', %(state)s, 0, 0)"


async def test_every_pair_of_the_pools_table_is_sampled_and_an_unreadable_one_named(
    own_db: Database, own_database_url: str
) -> None:
    market = MarketPrices(own_db, ApiSettings(database_url=own_database_url), Catalog())
    with pytest.raises(UnknownPair, match="SOL/USDC"):
        await market.window("SOL/USDC", 60)
    await market.sample_once()
    assert market.history.points == {}

    state = dump(default_pools()["JUP/SOL"])
    async with own_db.connection() as conn:
        await seed_pools(conn)
        await conn.execute(_UNKNOWN_TOKEN, {"state": Jsonb({**state, "base": "ZZZ"})})
    with pytest.raises(LookupError, match="ZZZ/SOL"):
        await market.sample_once()

    assert set(market.history.points) == set(PAIRS)
    for pair in PAIRS:
        [point] = await market.window(pair, 60)
        assert point.raydium is not None
        assert point.meteora is not None
