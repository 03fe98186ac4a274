"""The api's price history: each venue's spot price from its pool, and the bounded ring per pair."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from orders_api.market_prices import HISTORY_S, PriceHistory, PricePoint, spot_prices
from orders_api.schemas import PricePointView
from orders_api.waiting import readable
from orders_venues import DEFAULT_USD_PRICES, default_pools


@pytest.mark.parametrize("pair", ["SOL/USDC", "JUP/SOL", "BONK/SOL", "USDC/USDT"])
def test_both_venues_spot_prices_start_at_the_seed_price(pair: str) -> None:
    pools = default_pools()[pair]
    seed = DEFAULT_USD_PRICES[pools.base.symbol] / DEFAULT_USD_PRICES[pools.quote.symbol]
    point = spot_prices(pools, 7)
    assert point.t == 7
    for price in (point.raydium, point.meteora):
        assert price is not None
        # Meteora's active bin is within one bin step (at most 25 bps) of the seed price.
        assert abs(price - seed) / seed < Decimal("0.003")


def test_prices_are_written_as_digits_never_in_exponent_form() -> None:
    point = spot_prices(default_pools()["BONK/SOL"], 0)
    view = PricePointView(t=point.t, raydium=point.raydium, meteora=point.meteora).model_dump(mode="json")
    assert view["raydium"].startswith("0.0000001")
    assert "E" not in view["raydium"] + view["meteora"]
    assert Decimal(view["raydium"]) == point.raydium


def test_a_meteora_pair_without_liquidity_has_no_price() -> None:
    pools = default_pools()["SOL/USDC"]
    empty = replace(pools, meteora=replace(pools.meteora, bins={}))
    assert spot_prices(empty, 0).meteora is None
    assert spot_prices(empty, 0).raydium is not None


def _point(t: int) -> PricePoint:
    return PricePoint(t, Decimal(t), None)


def test_the_ring_keeps_the_last_history_s_points_per_pair() -> None:
    history = PriceHistory()
    for t in range(HISTORY_S + 50):
        history.add("SOL/USDC", _point(t))
    history.add("JUP/SOL", _point(3))
    kept = history.since("SOL/USDC", 0)
    assert [p.t for p in kept] == list(range(50, HISTORY_S + 50))
    assert [p.t for p in history.since("JUP/SOL", 0)] == [3]


def test_since_is_the_window_from_a_second_on_oldest_first() -> None:
    history = PriceHistory()
    for t in (10, 11, 12, 13):
        history.add("SOL/USDC", _point(t))
    assert [p.t for p in history.since("SOL/USDC", 12)] == [12, 13]
    assert history.since("SOL/USDC", 14) == []
    assert history.since("JUP/SOL", 0) == []


def test_a_second_sampled_twice_keeps_the_later_point() -> None:
    history = PriceHistory()
    history.add("SOL/USDC", PricePoint(5, Decimal(1), None))
    history.add("SOL/USDC", PricePoint(5, Decimal(2), None))
    assert history.since("SOL/USDC", 0) == [PricePoint(5, Decimal(2), None)]


def test_pairs_without_pools_are_forgotten() -> None:
    history = PriceHistory()
    history.add("SOL/USDC", _point(1))
    history.add("PUMP/SOL", _point(1))
    history.keep_only({"SOL/USDC"})
    assert set(history.points) == {"SOL/USDC"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("151.93123"), "151.931"),
        (Decimal("152.000"), "152"),
        (Decimal("1.5E+2"), "150"),
        (Decimal("0.000000133333333"), "0.000000133333"),
        (Decimal("1234567.89"), "1234570"),
    ],
)
def test_prices_in_sentences_have_six_digits_and_no_exponent(value: Decimal, text: str) -> None:
    assert readable(value) == text
