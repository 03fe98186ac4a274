"""Meteora DLMM model: Q64.64 prices, bin arrays, fees, the walk across bins and its invariants."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from orders_venues.errors import CannotFill, InsufficientLiquidity, InvalidAmount, InvalidPool
from orders_venues.meteora import (
    DlmmParameters,
    DlmmPool,
    DlmmSwap,
    DlmmVParameters,
    swap_quote,
    total_fee_rate,
    update_references,
)
from orders_venues.q64 import (
    ONE,
    U128_MAX,
    bin_array_bitmap,
    bin_array_bounds,
    bin_id_to_bin_array_index,
    get_q_price_base_factor,
    get_q_price_from_id,
)
from tests.venues.strategies import NOW, dlmm_pools

PRESET_10 = DlmmParameters(
    base_factor=10_000,
    filter_period=30,
    decay_period=600,
    reduction_factor=5_000,
    variable_fee_control=40_000,
    max_volatility_accumulator=350_000,
    protocol_share=1_000,
)


def _flat_pool(active_id: int = 0, per_bin: int = 10**9, radius: int = 100) -> DlmmPool:
    """A bin step 10 pair, ``per_bin`` units of Y below the active bin and as much X above."""
    bins = dict.fromkeys(range(active_id - radius, active_id), (0, per_bin))
    bins.update(dict.fromkeys(range(active_id + 1, active_id + radius + 1), (per_bin, 0)))
    bins[active_id] = (per_bin // 2, per_bin // 2)
    v = DlmmVParameters(index_reference=active_id, last_update_timestamp=NOW - 10_000)
    return DlmmPool(10, active_id, PRESET_10, v, bins)


# ---------------------------------------------------------------- Q64.64 and bin arrays


def test_price_of_bin_zero_is_one_and_of_bin_one_is_the_base() -> None:
    assert get_q_price_from_id(0, 10) == ONE
    assert get_q_price_from_id(1, 10) == get_q_price_base_factor(10)
    assert get_q_price_base_factor(10) == ONE + ONE * 10 // 10_000


def test_exponents_beyond_nineteen_bits_give_zero_like_the_sdk() -> None:
    assert get_q_price_from_id(524_289, 1) == 0
    assert get_q_price_from_id(-524_289, 1) == 0


@given(step=st.sampled_from((1, 5, 10, 25, 100)), bin_id=st.integers(-2_000, 2_000))
def test_prices_rise_with_the_bin_id(step: int, bin_id: int) -> None:
    assert get_q_price_from_id(bin_id, step) < get_q_price_from_id(bin_id + 1, step)


@given(step=st.sampled_from((1, 5, 10, 25, 100)), bin_id=st.integers(1, 2_000))
def test_negative_ids_are_inverses_to_a_few_parts_per_billion(step: int, bin_id: int) -> None:
    product = get_q_price_from_id(bin_id, step) * get_q_price_from_id(-bin_id, step)
    assert abs(product - U128_MAX) * 10**9 < U128_MAX


def test_bin_array_indexes_floor_towards_negative_infinity() -> None:
    assert [bin_id_to_bin_array_index(i) for i in (-71, -70, -1, 0, 69, 70)] == [-2, -1, -1, 0, 0, 1]
    assert bin_array_bounds(-1) == (-70, -1)
    assert bin_array_bounds(2) == (140, 209)


def test_bitmap_sets_bit_index_plus_512_in_little_endian_words() -> None:
    words = bin_array_bitmap([-512, -1, 0, 511])
    assert len(words) == 16
    assert words[0] == 1
    assert words[7] == 1 << 63
    assert words[8] == 1
    assert words[15] == 1 << 63
    with pytest.raises(ValueError, match="outside"):
        bin_array_bitmap([512])


# ---------------------------------------------------------------- fees and volatility


def test_preset_fee_is_ten_basis_points_plus_volatility() -> None:
    assert total_fee_rate(10, PRESET_10, 0) == 1_000_000  # 0.1% over 1e9
    # 40,000 * (10,000 * 10)**2 / 1e11 = 4,000 more one bin away, 4,900,000 at the maximum accumulator.
    assert total_fee_rate(10, PRESET_10, 10_000) == 1_000_000 + 4_000
    assert total_fee_rate(10, PRESET_10, 350_000) == 1_000_000 + 4_900_000
    # One more unit of volatility rounds up, as the SDK does.
    assert total_fee_rate(10, PRESET_10, 10_001) == 1_000_000 + 4_001
    steep = replace(PRESET_10, variable_fee_control=10**7)
    assert total_fee_rate(10, steep, 350_000) == 100_000_000  # capped at 10%


def test_references_follow_the_three_time_windows() -> None:
    v = DlmmVParameters(
        volatility_accumulator=40_000, volatility_reference=7, index_reference=3, last_update_timestamp=0
    )
    assert update_references(v, PRESET_10, 50, now=29) == v  # within the filter period: unchanged
    decayed = update_references(v, PRESET_10, 50, now=30)
    assert (decayed.index_reference, decayed.volatility_reference) == (50, 20_000)
    reset = update_references(v, PRESET_10, 50, now=600)
    assert (reset.index_reference, reset.volatility_reference) == (50, 0)


def test_a_swap_across_bins_pays_rising_fees_and_leaves_volatility_behind() -> None:
    pool = _flat_pool()
    small = swap_quote(pool, 10**8, swap_for_y=True, now=NOW)
    large = swap_quote(pool, 20 * 10**9, swap_for_y=True, now=NOW)
    assert small.bins_used == 1
    assert large.bins_used > 15
    assert large.fee_amount * small.amount_in > small.fee_amount * large.amount_in
    assert large.pool_after.v_parameters.volatility_accumulator > 0
    assert large.pool_after.v_parameters.last_update_timestamp == NOW
    assert large.pool_after.active_id == large.end_bin_id < pool.active_id


# ---------------------------------------------------------------- swaps: examples


def test_partial_fill_in_the_active_bin_keeps_the_active_bin() -> None:
    pool = _flat_pool(active_id=-35)
    swap = swap_quote(pool, 1_000, swap_for_y=False, now=NOW)
    assert (swap.start_bin_id, swap.end_bin_id, swap.bins_used) == (-35, -35, 1)
    assert swap.amount_in == 1_000
    assert swap.fee_amount == 1  # 0.1% of 1,000, rounded up
    assert swap.pool_after.bins[-35][1] == pool.bins[-35][1] + 999


def test_swap_crosses_into_the_next_bin_array_below_zero() -> None:
    pool = _flat_pool(active_id=-69, per_bin=10**6, radius=5)  # bins -74..-64: arrays -2 and -1
    swap = swap_quote(pool, 4 * 10**6, swap_for_y=True, now=NOW)
    assert bin_id_to_bin_array_index(swap.start_bin_id) == -1
    assert bin_id_to_bin_array_index(swap.end_bin_id) == -2


def test_dust_is_consumed_but_reports_no_fee() -> None:
    swap = swap_quote(_flat_pool(), 1, swap_for_y=True, now=NOW)
    assert (swap.amount_in, swap.amount_out, swap.fee, swap.protocol_fee) == (1, 0, 0, 0)


def test_more_than_the_bins_hold_is_refused_or_partially_filled() -> None:
    pool = _flat_pool(radius=3)
    with pytest.raises(InsufficientLiquidity):
        swap_quote(pool, 10**15, swap_for_y=True, now=NOW)
    partial = swap_quote(pool, 10**15, swap_for_y=True, now=NOW, allow_partial_fill=True)
    assert partial.amount_in < 10**15
    assert partial.amount_out == pool.reserve_y


def test_empty_side_and_bad_amounts_are_refused() -> None:
    pool = _flat_pool()
    only_x = replace(pool, bins={i: (x, 0) for i, (x, _) in pool.bins.items()})
    with pytest.raises(InsufficientLiquidity):
        swap_quote(only_x, 10, swap_for_y=True, now=NOW)
    with pytest.raises(InvalidAmount):
        swap_quote(pool, 0, swap_for_y=True, now=NOW)
    with pytest.raises(InvalidPool):
        DlmmPool(10, 0, PRESET_10, DlmmVParameters(), {0: (-1, 0)})


# ---------------------------------------------------------------- swaps: invariants


def _quote(pool: DlmmPool, amount: int, swap_for_y: bool) -> DlmmSwap | None:
    try:
        return swap_quote(pool, amount, swap_for_y, NOW)
    except CannotFill:
        return None


@given(pool=dlmm_pools(), amount=st.integers(1, 10**15), swap_for_y=st.booleans())
def test_never_pays_out_more_than_it_holds(pool: DlmmPool, amount: int, swap_for_y: bool) -> None:
    swap = _quote(pool, amount, swap_for_y)
    assume(swap is not None)
    assert swap is not None
    after = swap.pool_after
    out_before, out_after = (
        (pool.reserve_y, after.reserve_y) if swap_for_y else (pool.reserve_x, after.reserve_x)
    )
    in_before, in_after = (
        (pool.reserve_x, after.reserve_x) if swap_for_y else (pool.reserve_y, after.reserve_y)
    )
    assert swap.amount_out <= out_before
    assert out_after == out_before - swap.amount_out
    # The bins take the input net of fees; the fees are held outside them.
    assert 0 <= in_after - in_before <= swap.amount_in - swap.fee_amount
    assert swap.amount_in == amount


@given(
    pool=dlmm_pools(), amount=st.integers(1, 10**14), extra=st.integers(1, 10**14), swap_for_y=st.booleans()
)
def test_output_is_monotone_in_amount_in(pool: DlmmPool, amount: int, extra: int, swap_for_y: bool) -> None:
    larger = _quote(pool, amount + extra, swap_for_y)
    assume(larger is not None)
    assert larger is not None
    smaller = _quote(pool, amount, swap_for_y)
    assert smaller is not None
    assert smaller.amount_out <= larger.amount_out


@given(pool=dlmm_pools(), amount=st.integers(1, 10**14), swap_for_y=st.booleans())
def test_the_active_bin_moves_only_with_the_swap(pool: DlmmPool, amount: int, swap_for_y: bool) -> None:
    swap = _quote(pool, amount, swap_for_y)
    assume(swap is not None)
    assert swap is not None
    after = swap.pool_after
    assert after.active_id <= pool.active_id if swap_for_y else after.active_id >= pool.active_id
    assert after.v_parameters.volatility_accumulator <= pool.parameters.max_volatility_accumulator
    assert after.v_parameters.last_update_timestamp == NOW


@given(
    pool=dlmm_pools(min_filter_period=1),
    first=st.integers(1, 10**14),
    second=st.integers(1, 10**14),
    swap_for_y=st.booleans(),
)
def test_two_swaps_in_a_row_never_pay_more_than_one(
    pool: DlmmPool, first: int, second: int, swap_for_y: bool
) -> None:
    # Within the filter period the second swap keeps the references, as one swap would.
    whole = _quote(pool, first + second, swap_for_y)
    assume(whole is not None)
    assert whole is not None
    one = _quote(pool, first, swap_for_y)
    assert one is not None
    two = _quote(one.pool_after, second, swap_for_y)
    assert two is not None
    assert one.amount_out + two.amount_out <= whole.amount_out


@given(
    pool=dlmm_pools(),
    trades=st.lists(st.tuples(st.integers(1, 10**13), st.booleans()), min_size=1, max_size=6),
)
def test_requoting_from_the_next_state_keeps_every_bins_ledger(
    pool: DlmmPool, trades: list[tuple[int, bool]]
) -> None:
    state, bought_x, bought_y, into_x, into_y = pool, 0, 0, 0, 0
    for amount, swap_for_y in trades:
        swap = _quote(state, amount, swap_for_y)
        if swap is None:
            continue
        in_before = state.reserve_x if swap_for_y else state.reserve_y
        in_after = swap.pool_after.reserve_x if swap_for_y else swap.pool_after.reserve_y
        if swap_for_y:
            bought_y += swap.amount_out
            into_x += in_after - in_before
        else:
            bought_x += swap.amount_out
            into_y += in_after - in_before
        state = swap.pool_after
    assert state.reserve_x == pool.reserve_x + into_x - bought_x
    assert state.reserve_y == pool.reserve_y + into_y - bought_y
    assert all(x >= 0 and y >= 0 for x, y in state.bins.values())
