"""The pure router: best single venue, splits in percent steps, and what it promises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders_venues.errors import CannotFill, InsufficientLiquidity, InvalidAmount, NoRoute
from orders_venues.meteora import DlmmPool, swap_quote
from orders_venues.pools import PairPools, default_pools
from orders_venues.raydium import CpmmPool, swap_exact_in
from orders_venues.router import QuoteFn, Route, best_route, best_single_venue
from tests.venues.strategies import NOW, cpmm_pools

SOL_USDC: PairPools = default_pools(now=NOW - 3_600)["SOL/USDC"]
LAMPORTS_PER_SOL = 10**9


def _raydium(pool: CpmmPool, zero_for_one: bool = True) -> QuoteFn:
    return lambda amount: swap_exact_in(pool, amount, zero_for_one).amount_out


def _meteora(pool: DlmmPool, swap_for_y: bool = True) -> QuoteFn:
    return lambda amount: swap_quote(pool, amount, swap_for_y, NOW).amount_out


SOL_USDC_VENUES: dict[str, QuoteFn] = {
    "raydium": _raydium(SOL_USDC.raydium),
    "meteora": _meteora(SOL_USDC.meteora),
}


def _cannot_fill(amount: int) -> int:
    raise InsufficientLiquidity("closed")


def _capped(limit: int, rate: int) -> QuoteFn:
    """A venue that pays ``rate`` per unit but cannot take more than ``limit``."""

    def quote(amount: int) -> int:
        if amount > limit:
            raise InsufficientLiquidity("too large")
        return amount * rate

    return quote


def _check_promises(route: Route, venues: dict[str, QuoteFn]) -> None:
    assert sum(leg.amount_in for leg in route.legs) == route.amount_in
    assert sum(leg.amount_out for leg in route.legs) == route.amount_out
    assert sum(leg.percent for leg in route.legs) == 100
    for leg in route.legs:
        assert leg.amount_in > 0
        assert venues[leg.venue](leg.amount_in) == leg.amount_out
    for quote in route.single_quotes.values():
        assert quote is None or route.amount_out >= quote
    if route.best_single is not None:
        assert route.amount_out >= route.best_single.amount_out
        if route.is_split:
            assert route.amount_out > route.best_single.amount_out


def test_small_order_goes_to_one_venue() -> None:
    route = best_route(SOL_USDC_VENUES, LAMPORTS_PER_SOL)
    assert not route.is_split
    assert route.best_single is not None
    assert route.legs[0].venue == route.best_single.venue
    _check_promises(route, SOL_USDC_VENUES)


def test_large_order_is_split_when_the_split_pays() -> None:
    route = best_route(SOL_USDC_VENUES, 20_000 * LAMPORTS_PER_SOL)
    assert route.is_split
    assert {leg.venue for leg in route.legs} == {"raydium", "meteora"}
    _check_promises(route, SOL_USDC_VENUES)


def test_split_fills_what_no_single_venue_can() -> None:
    venues = {"a": _capped(600, 2), "b": _capped(600, 3)}
    route = best_route(venues, 1_000)
    assert route.best_single is None
    assert route.single_quotes == {"a": None, "b": None}
    assert [(leg.venue, leg.amount_in) for leg in route.legs] == [("a", 400), ("b", 600)]
    assert route.amount_out == 400 * 2 + 600 * 3


def test_leg_amounts_sum_exactly_when_percentages_do_not_divide() -> None:
    route = best_route({"a": _capped(60, 5), "b": _capped(10**9, 1)}, 101)
    # 60% of 101 rounds down to 60 for the first leg; the last leg takes the remainder.
    assert [(leg.venue, leg.percent, leg.amount_in) for leg in route.legs] == [("a", 60, 60), ("b", 40, 41)]
    assert route.amount_out == 60 * 5 + 41


def test_ties_go_to_fewer_legs_and_the_first_venue() -> None:
    venues = {"a": _capped(10**9, 2), "b": _capped(10**9, 2)}
    route = best_route(venues, 1_000)
    assert [leg.venue for leg in route.legs] == ["a"]


def test_a_venue_that_cannot_fill_is_skipped() -> None:
    venues = {"closed": _cannot_fill, **SOL_USDC_VENUES}
    route = best_route(venues, 10 * LAMPORTS_PER_SOL)
    assert route.single_quotes["closed"] is None
    assert "closed" not in {leg.venue for leg in route.legs}


def test_no_route_when_nothing_can_fill() -> None:
    with pytest.raises(NoRoute):
        best_route({"a": _cannot_fill, "b": _cannot_fill}, 100)
    with pytest.raises(NoRoute):
        best_route({}, 100)
    with pytest.raises(NoRoute):
        best_single_venue({"a": _capped(600, 2), "b": _capped(600, 3)}, 1_000)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidAmount):
        best_route(SOL_USDC_VENUES, 0)
    with pytest.raises(ValueError, match="divide 100"):
        best_route(SOL_USDC_VENUES, 100, step_pct=7)


def test_other_errors_from_a_venue_are_not_swallowed() -> None:
    def broken(amount: int) -> int:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        best_route({"broken": broken}, 100)


def test_three_venues_and_the_best_single_helper() -> None:
    venues = {**SOL_USDC_VENUES, "small": _raydium(CpmmPool(vault_0=10**13, vault_1=15 * 10**11))}
    route = best_route(venues, 5_000 * LAMPORTS_PER_SOL, step_pct=10)
    _check_promises(route, venues)
    single = best_single_venue(venues, 5_000 * LAMPORTS_PER_SOL)
    assert single.amount_out == max(q for q in route.single_quotes.values() if q is not None)


@settings(max_examples=60)
@given(amount=st.integers(1, 50_000 * LAMPORTS_PER_SOL), step=st.sampled_from((5, 10, 20, 25, 50, 100)))
def test_route_is_never_worse_than_any_single_venue(amount: int, step: int) -> None:
    try:
        route = best_route(SOL_USDC_VENUES, amount, step_pct=step)
    except NoRoute:
        for venue in SOL_USDC_VENUES.values():
            with pytest.raises(CannotFill):
                venue(amount)
        return
    _check_promises(route, SOL_USDC_VENUES)


@settings(max_examples=60)
@given(
    pools=st.lists(cpmm_pools(creator_fee=False), min_size=1, max_size=3),
    amount=st.integers(1, 10**18),
    step=st.sampled_from((5, 10, 25)),
)
def test_split_is_never_worse_than_no_split(pools: list[CpmmPool], amount: int, step: int) -> None:
    venues = {f"pool{i}": _raydium(pool) for i, pool in enumerate(pools)}
    try:
        split = best_route(venues, amount, step_pct=step)
    except NoRoute:
        return
    _check_promises(split, venues)
    unsplit = best_route(venues, amount, step_pct=100)
    assert split.amount_out >= unsplit.amount_out
