"""The pure router: best single venue, the split search, the 5% grid it replaced, and what they promise."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders_venues.errors import CannotFill, InsufficientLiquidity, InvalidAmount, Unroutable
from orders_venues.exchange import VENUES, quote_fns, swap
from orders_venues.market import Market
from orders_venues.meteora import DlmmPool, swap_quote
from orders_venues.pools import PAIRS, PairPools, default_pools
from orders_venues.raydium import CpmmPool, swap_exact_in
from orders_venues.route_search import QuoteFn, Route, best_route, best_single_venue, grid_route
from tests.venues.strategies import NOW, cpmm_pools

SEEDED: dict[str, PairPools] = default_pools(now=NOW - 3_600)
SOL_USDC = SEEDED["SOL/USDC"]
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


class _Counted:
    """The venues' quote functions, counting every call."""

    def __init__(self, venues: dict[str, QuoteFn]) -> None:
        self.calls = 0
        self.venues = {name: self._counting(quote) for name, quote in venues.items()}

    def _counting(self, quote: QuoteFn) -> QuoteFn:
        def counted(amount: int) -> int:
            self.calls += 1
            return quote(amount)

        return counted


@dataclass(frozen=True)
class SeededOrder:
    """An order on a seeded pair in a random state: a trade on one venue, then the market's arbitrage."""

    pair: str
    trade_venue: str
    trade_sells_base: bool
    trade_amount: int
    seconds_later: int
    market_seed: int
    sell_base: bool
    amount: int

    def venues(self) -> dict[str, QuoteFn]:
        """Both venues' quote functions on the pools in that state."""
        pools = SEEDED[self.pair]
        with contextlib.suppress(CannotFill):
            _, pools = swap(pools, self.trade_venue, self.trade_sells_base, self.trade_amount, NOW)
        later = NOW + self.seconds_later
        pools = Market(seed=self.market_seed, origin=NOW).settle(pools, NOW, later)
        return quote_fns(pools, self.sell_base, later)


def _amounts(decimals: int, most: int) -> st.SearchStrategy[int]:
    """Amounts spread evenly over the orders of magnitude, up to ``10**most`` whole tokens."""
    return st.integers(0, decimals + most).flatmap(lambda digits: st.integers(10**digits, 10 ** (digits + 1)))


@st.composite
def seeded_orders(draw: st.DrawFn) -> SeededOrder:
    """An order of any size on a seeded pair in a random state."""
    pair = draw(st.sampled_from(PAIRS))
    pools = SEEDED[pair]
    trade_sells_base, sell_base = draw(st.booleans()), draw(st.booleans())
    return SeededOrder(
        pair=pair,
        trade_venue=draw(st.sampled_from(VENUES)),
        trade_sells_base=trade_sells_base,
        trade_amount=draw(_amounts((pools.base if trade_sells_base else pools.quote).decimals, 6)),
        seconds_later=draw(st.integers(0, 600)),
        market_seed=draw(st.integers(0, 1_000)),
        sell_base=sell_base,
        amount=draw(_amounts((pools.base if sell_base else pools.quote).decimals, 7)),
    )


def _check_promises(route: Route, venues: dict[str, QuoteFn]) -> None:
    assert sum(leg.amount_in for leg in route.legs) == route.amount_in
    assert sum(leg.amount_out for leg in route.legs) == route.amount_out
    assert sum(leg.percent for leg in route.legs) == 100
    for leg in route.legs:
        assert leg.amount_in > 0
        assert 0 < leg.percent <= 100
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


def test_grid_leg_amounts_sum_exactly_when_percentages_do_not_divide() -> None:
    route = grid_route({"a": _capped(60, 5), "b": _capped(10**9, 1)}, 101)
    # 60% of 101 rounds down to 60 for the first leg; the last leg takes the remainder.
    assert [(leg.venue, leg.percent, leg.amount_in) for leg in route.legs] == [("a", 60, 60), ("b", 40, 41)]
    assert route.amount_out == 60 * 5 + 41


def test_searched_split_has_exact_amounts_and_rounded_percents() -> None:
    route = best_route({"a": _capped(60, 5), "b": _capped(10**9, 1)}, 101)
    # The search fills "a" to its depth exactly; 60 of 101 is 59.4%, shown as 59.
    assert [(leg.venue, leg.percent, leg.amount_in) for leg in route.legs] == [("a", 59, 60), ("b", 41, 41)]
    assert route.amount_out == 60 * 5 + 41


def test_search_finds_a_split_finer_than_the_grid() -> None:
    # "a" pays more but takes only 3% of the order: every 5% allocation to it fails.
    venues = {"a": _capped(30, 3), "b": _capped(10**9, 2)}
    assert grid_route(venues, 1_000).amount_out == 2 * 1_000
    route = best_route(venues, 1_000)
    assert [(leg.venue, leg.percent, leg.amount_in) for leg in route.legs] == [("a", 3, 30), ("b", 97, 970)]
    assert route.amount_out == 3 * 30 + 2 * 970


def test_a_tiny_leg_still_shows_one_percent() -> None:
    venues = {"a": _capped(3, 3), "b": _capped(10**9, 2)}
    route = best_route(venues, 1_000)
    assert [(leg.venue, leg.percent, leg.amount_in) for leg in route.legs] == [("a", 1, 3), ("b", 99, 997)]


def test_an_order_past_one_venues_depth_takes_all_of_it() -> None:
    # The seeded Meteora pair holds the USDC of about 8,800 SOL: for 20,000 SOL the grid can send it 40%
    # but not 45%; the search fills it to within amount / 2**16 of its depth.
    amount = 20_000 * LAMPORTS_PER_SOL
    grid, route = grid_route(SOL_USDC_VENUES, amount), best_route(SOL_USDC_VENUES, amount)
    assert [(leg.venue, leg.percent) for leg in grid.legs] == [("raydium", 60), ("meteora", 40)]
    assert route.amount_out > grid.amount_out
    meteora = next(leg for leg in route.legs if leg.venue == "meteora")
    with pytest.raises(CannotFill):
        SOL_USDC_VENUES["meteora"](meteora.amount_in + amount // 2**16)
    _check_promises(route, SOL_USDC_VENUES)


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
    with pytest.raises(Unroutable):
        best_route({"a": _cannot_fill, "b": _cannot_fill}, 100)
    with pytest.raises(Unroutable):
        best_route({}, 100)
    with pytest.raises(Unroutable):
        best_single_venue({"a": _capped(600, 2), "b": _capped(600, 3)}, 1_000)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidAmount):
        best_route(SOL_USDC_VENUES, 0)
    with pytest.raises(InvalidAmount):
        grid_route(SOL_USDC_VENUES, 0)
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


def test_three_venues_and_a_step_mean_the_grid() -> None:
    venues = {**SOL_USDC_VENUES, "small": _raydium(CpmmPool(vault_0=10**13, vault_1=15 * 10**11))}
    amount = 5_000 * LAMPORTS_PER_SOL
    assert best_route(venues, amount) == grid_route(venues, amount)
    stepped = best_route(SOL_USDC_VENUES, amount, step_pct=10)
    assert stepped == grid_route(SOL_USDC_VENUES, amount, step_pct=10)


@settings(max_examples=60)
@given(amount=st.integers(1, 50_000 * LAMPORTS_PER_SOL), step=st.sampled_from((None, 5, 10, 20, 25, 50, 100)))
def test_route_is_never_worse_than_any_single_venue(amount: int, step: int | None) -> None:
    try:
        route = best_route(SOL_USDC_VENUES, amount, step_pct=step)
    except Unroutable:
        for venue in SOL_USDC_VENUES.values():
            with pytest.raises(CannotFill):
                venue(amount)
        return
    _check_promises(route, SOL_USDC_VENUES)


@settings(max_examples=60)
@given(
    pools=st.lists(cpmm_pools(creator_fee=False), min_size=1, max_size=3),
    amount=st.integers(1, 10**18),
    step=st.sampled_from((None, 5, 10, 25)),
)
def test_split_is_never_worse_than_no_split(pools: list[CpmmPool], amount: int, step: int | None) -> None:
    venues = {f"pool{i}": _raydium(pool) for i, pool in enumerate(pools)}
    try:
        split = best_route(venues, amount, step_pct=step)
    except Unroutable:
        return
    _check_promises(split, venues)
    unsplit = best_route(venues, amount, step_pct=100)
    assert split.amount_out >= unsplit.amount_out


@settings(max_examples=150)
@given(order=seeded_orders())
def test_search_is_never_worse_than_a_single_venue_or_beyond_rounding_the_grid(order: SeededOrder) -> None:
    venues, amount = order.venues(), order.amount
    try:
        grid = grid_route(venues, amount)
    except Unroutable:
        grid = None
    try:
        route = best_route(venues, amount)
    except Unroutable:
        assert grid is None
        return
    _check_promises(route, venues)
    if grid is not None:
        # Each leg rounds its fee up by less than a unit of input and its output down by less than a unit
        # of output. Where the total output is flat over many splits (a small order between venues priced
        # alike) those roundings are all that tell the splits apart, and the search may land below the
        # grid's luckiest allocation by as much; anywhere else concavity keeps it at least as good.
        input_unit = -(-route.amount_out // amount)  # a unit of input's worth of output, rounded up
        assert route.amount_out >= grid.amount_out - 2 * (1 + input_unit)


@settings(max_examples=150)
@given(order=seeded_orders())
def test_search_asks_fewer_quotes_than_the_grid(order: SeededOrder) -> None:
    venues, amount = order.venues(), order.amount
    grid, search = _Counted(venues), _Counted(venues)
    try:
        grid_out = grid_route(grid.venues, amount).amount_out
    except Unroutable:
        grid_out = None
    try:
        search_out = best_route(search.venues, amount).amount_out
    except Unroutable:
        search_out = None
    if amount < 20:
        # The 5% grid already tries every split of so small an order: the search is the grid there.
        assert search.calls == grid.calls
    elif grid.calls > 4:
        # The grid tried its allocations (about 40 quotes for two venues).
        assert search.calls < grid.calls
    elif search.calls > 4:
        # The grid stopped after its first 5% step off the best venue (4 quotes). The search takes the same
        # step, and a step of amount / 1024 when the other venue cannot take 5%; it searches only when the
        # step pays, so it returns a better route.
        assert search_out is not None
        assert grid_out is None or search_out > grid_out
