"""Launches without I/O: a process's catalog and mint addresses, a launched pair's pools, the seeded
schedule (the same on every worker), the checks of a launch and of a sniper order."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from orders_api.schemas import OrderRequest
from orders_api.validation import validate, validate_sniper
from orders_shared.errors import InvalidOrder
from orders_shared.launches import Launch, due, learn, plan, scheduled
from orders_shared.pools import dump, load
from orders_venues import Catalog, Market, derived_mint, is_mint, launch_pools, orient
from orders_venues.exchange import quote_fns
from orders_venues.route_search import best_route
from orders_venues.tokens import TOKENS, Token, b58decode, b58encode
from orders_worker.snipe import LAUNCH_PASS_S, _until_next_pass

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _plan(symbol: str, **changes: object) -> Launch:
    terms: dict[str, object] = {
        "decimals": 6,
        "quote": "SOL",
        "price": Decimal("0.0001"),
        "liquidity": Decimal("500"),
        "now": NOW,
    }
    terms.update(changes)
    return plan(symbol, **terms)  # type: ignore[arg-type]


def test_base58_round_trips_and_a_mint_is_32_bytes() -> None:
    for data in (b"", b"\0\0abc", bytes(range(32))):
        assert b58decode(b58encode(data)) == data
    assert is_mint(TOKENS["USDC"].mint)
    assert is_mint(derived_mint("x"))
    assert derived_mint("x") == derived_mint("x") != derived_mint("y")
    assert not is_mint("PUMP")
    assert not is_mint("0OIl" * 11)  # outside the alphabet


def test_a_learnt_launch_is_found_by_symbol_any_case_and_by_mint_and_is_routable() -> None:
    launch = _plan("UNITA", mint=derived_mint("unit/UNITA"))
    catalog = Catalog()
    assert catalog.find_token("UNITA") is None
    learn(catalog, launch)
    found = catalog.find_token
    assert found("UNITA") == found("unita") == found(launch.token.mint) == launch.token
    assert orient("SOL", "UNITA", catalog.pairs()).pair == "UNITA/SOL"
    assert orient("SOL", "UNITA", catalog.pairs()).sell_base is False
    assert Catalog().find_token("UNITA") is None  # another process's catalog has not learnt it
    known = catalog.listing("UNITA/SOL")
    assert known is not None
    assert known.opens_at == int(NOW.timestamp())
    assert known.usd_price == Decimal("0.015")  # 0.0001 SOL at the market's 150 USD per SOL


def test_a_launched_pool_holds_the_liquidity_at_the_price_and_only_raydium_fills() -> None:
    token = Token("UNITB", derived_mint("unit/UNITB"), 6)
    pools = launch_pools(token, TOKENS["SOL"], Decimal("0.0001"), Decimal("500"), now=0)
    assert pools.raydium.vault_1 == 500 * 10**9  # lamports
    assert pools.raydium.vault_0 == 5_000_000 * 10**6  # 500 / 0.0001 tokens
    assert pools.meteora.bins == {}
    route = best_route(quote_fns(pools, sell_base=False, now=0), 10**9)
    assert [leg.venue for leg in route.legs] == ["raydium"]
    with pytest.raises(ValueError, match="u64"):
        launch_pools(token, TOKENS["SOL"], Decimal("1e-12"), Decimal("100000"), now=0)


def test_a_launched_pair_s_state_carries_its_token_and_reference_price() -> None:
    launch = _plan("UNITC")
    pools = launch_pools(launch.token, launch.quote, launch.price, launch.liquidity, now=0)
    state = dump(pools, launch.listing())
    assert state["launch"]["mint"] == launch.token.mint
    catalog = Catalog()
    loaded = load(state, catalog)  # a process that never heard of UNITC learns it from the row
    assert loaded == pools
    assert catalog.find_token("UNITC") == launch.token
    # The market walks the new token from its launch price: at the pool's origin, the reference is it.
    market = Market(seed=42, origin=int(NOW.timestamp()), volatility_bps=2, usd_prices=catalog.usd_prices())
    assert market.usd_price("UNITC", int(NOW.timestamp())) == Decimal("0.015")


def test_the_schedule_is_a_pure_function_of_the_seed_and_the_hour() -> None:
    hour = int(NOW.timestamp()) // 3600
    first = scheduled(42, 5, hour)
    assert first == scheduled(42, 5, hour)
    assert first != scheduled(43, 5, hour)
    assert len(first) == 5
    assert all(hour * 3600 <= launch.opens_at.timestamp() < (hour + 1) * 3600 for launch in first)
    assert [launch.opens_at for launch in first] == sorted(launch.opens_at for launch in first)
    for launch in first:
        assert is_mint(launch.token.mint)
        assert Decimal("1e-6") <= launch.price <= Decimal("1e-3")
        assert 50 <= launch.liquidity < 500
    assert scheduled(42, 0, hour) == []
    # What is due: opening within the lead, or within the last hour.
    for launch in due(42, 5, NOW):
        assert NOW - timedelta(hours=1) <= launch.opens_at <= NOW + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"symbol": "SOL"}, "symbol"),
        ({"symbol": "x"}, "symbol"),
        ({"decimals": 13}, "decimals"),
        ({"quote": "PUMP"}, "quote"),
        ({"price": Decimal(0)}, "price"),
        ({"liquidity": Decimal("-1")}, "liquidity"),
        ({"liquidity": Decimal("0.0000000001")}, "liquidity"),
        ({"at": NOW + timedelta(days=31)}, "at"),
        ({"at": NOW.replace(tzinfo=None) + timedelta(hours=1)}, "at"),  # no time zone
        ({"mint": "not-a-mint"}, "mint"),
        ({"mint": TOKENS["USDC"].mint}, "mint"),
    ],
)
def test_a_launch_that_cannot_be_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    symbol = str(changes.pop("symbol", "UNITD"))
    with pytest.raises(InvalidOrder) as refused:
        _plan(symbol, **changes)
    assert refused.value.field == field


def test_a_launch_in_the_past_opens_now() -> None:
    assert _plan("UNITE", at=NOW - timedelta(hours=1)).opens_at == NOW


def _request(**body: object) -> OrderRequest:
    return OrderRequest.model_validate({"tokenIn": "SOL", "amountIn": "1", "type": "sniper", **body})


def test_a_sniper_may_wait_for_any_mint_or_a_scheduled_launch() -> None:
    mint = derived_mint("unit/not launched")
    catalog = Catalog()
    order = validate_sniper(_request(tokenOut=mint, maxPrice="0.0002"), 50, catalog)
    assert (order.token_out, order.max_price, order.slippage_bps) == (mint, Decimal("0.0002"), 50)
    learn(catalog, _plan("UNITF", at=datetime.now(UTC) + timedelta(hours=1)))
    assert validate_sniper(_request(tokenOut="unitf"), 50, catalog).token_out == "UNITF"
    # Not tradable yet: a market order for it is refused, naming tokenOut.
    body = {"tokenIn": "SOL", "tokenOut": "UNITF", "amountIn": "1"}
    with pytest.raises(InvalidOrder) as early:
        validate(OrderRequest.model_validate(body), 50, catalog)
    assert early.value.field == "tokenOut"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tokenOut": "USDC"}, "tokenOut"),  # a pool trades it now
        ({"tokenOut": "NOSUCH"}, "tokenOut"),  # neither a known symbol nor a mint
        ({"tokenOut": "JUP", "tokenIn": "USDC"}, "tokenOut"),  # a seeded token is no launch
        ({"tokenOut": derived_mint("unit/x"), "maxPrice": "0"}, "maxPrice"),
        ({"tokenOut": derived_mint("unit/x"), "limitPrice": "1"}, "limitPrice"),
        ({"tokenOut": derived_mint("unit/x"), "expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
    ],
)
def test_a_sniper_that_cannot_wait_is_refused_naming_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidOrder) as refused:
        validate_sniper(_request(**body), 50, Catalog())
    assert refused.value.field == field


def test_max_price_is_for_sniper_orders_only() -> None:
    request = OrderRequest.model_validate(
        {"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", "maxPrice": "1"}
    )
    with pytest.raises(InvalidOrder) as refused:
        validate(request, 50, Catalog())
    assert refused.value.field == "maxPrice"


def test_a_limit_order_on_an_open_launched_pair_is_accepted_as_the_trigger_watches_every_pool() -> None:
    catalog = Catalog()
    learn(catalog, _plan("UNITG", now=datetime.now(UTC)))  # open now
    body = {"tokenIn": "SOL", "tokenOut": "UNITG", "amountIn": "1"}
    market = validate(OrderRequest.model_validate(body), 50, catalog)
    assert market.side.pair == "UNITG/SOL"  # a market order trades
    limit = validate(
        OrderRequest.model_validate({**body, "type": "limit", "limitPrice": "9000"}), 50, catalog
    )
    assert limit.side.pair == "UNITG/SOL"
    assert limit.limit is not None
    assert limit.limit.limit_price == 9000


def test_a_worker_s_next_launch_pass_comes_as_a_known_pool_opens() -> None:
    started = time.monotonic()
    catalog = Catalog()
    assert 0 < _until_next_pass(started, catalog) <= LAUNCH_PASS_S
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    learn(catalog, _plan("UNITH", at=soon, now=datetime.now(UTC)))
    wait = _until_next_pass(started, catalog)
    assert wait <= max(0.0, soon.timestamp() - time.time()) + 0.01
