"""Raydium CPMM model: worked examples, refusals and invariants."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from orders_venues.errors import (
    AmountTooLarge,
    AmountTooSmall,
    CannotFill,
    InsufficientLiquidity,
    InvalidAmount,
    InvalidPool,
)
from orders_venues.raydium import (
    CpmmPool,
    CreatorFeeOn,
    swap_base_input,
    swap_exact_in,
    swap_exact_out,
)
from tests.venues.strategies import cpmm_pools

POOL = CpmmPool(vault_0=1_000_000_000, vault_1=5_000_000_000)


def _k(pool: CpmmPool) -> int:
    return pool.reserve_0 * pool.reserve_1


def test_exact_in_example_matches_the_sdk_figures() -> None:
    # CurveCalculator.swapBaseInput(1e6, 1e9, 5e9, 2500, 0, 120000, 40000, false) in the SDK.
    swap = swap_exact_in(POOL, 1_000_000, zero_for_one=True)
    assert swap.amount_out == 4_982_529
    assert (swap.curve.trade_fee, swap.curve.protocol_fee, swap.curve.fund_fee) == (2_500, 300, 100)
    assert swap.quote.fee_amount == 2_500


def test_trade_fee_rounds_up_so_one_unit_cannot_be_swapped() -> None:
    with pytest.raises(AmountTooSmall):
        swap_exact_in(POOL, 1, zero_for_one=True)


def test_output_that_rounds_to_zero_is_refused_like_the_chain() -> None:
    deep_input = CpmmPool(vault_0=10**18, vault_1=10)
    with pytest.raises(AmountTooSmall):
        swap_exact_in(deep_input, 1_000, zero_for_one=True)


def test_exact_out_of_the_whole_reserve_is_refused() -> None:
    with pytest.raises(InsufficientLiquidity):
        swap_exact_out(POOL, POOL.reserve_1, zero_for_one=True)


def test_non_positive_amounts_are_caller_errors() -> None:
    with pytest.raises(InvalidAmount):
        swap_exact_in(POOL, 0, zero_for_one=True)
    with pytest.raises(InvalidAmount):
        swap_exact_out(POOL, -5, zero_for_one=False)


def test_pool_refuses_owed_fees_beyond_its_vault() -> None:
    with pytest.raises(InvalidPool):
        CpmmPool(vault_0=100, vault_1=100, protocol_fees_0=100)
    with pytest.raises(InvalidPool):
        CpmmPool(vault_0=100, vault_1=100, trade_fee_rate=1_000_000)


def test_next_state_keeps_the_lp_fee_and_owes_the_rest() -> None:
    swap = swap_exact_in(POOL, 1_000_000, zero_for_one=True)
    after = swap.pool_after
    assert after.vault_0 == POOL.vault_0 + 1_000_000
    assert after.vault_1 == POOL.vault_1 - swap.amount_out
    assert (after.protocol_fees_0, after.fund_fees_0) == (300, 100)
    # The LP share (2,500 - 300 - 100) stays on the curve.
    assert after.reserve_0 == POOL.reserve_0 + 1_000_000 - 400


def test_creator_fee_on_output_is_owed_in_the_output_token() -> None:
    pool = CpmmPool(
        vault_0=10**12, vault_1=10**12, creator_fee_rate=1_000, creator_fee_on=CreatorFeeOn.ONLY_TOKEN_0
    )
    # Token 1 in: the creator fee is on token 0, the output.
    swap = swap_exact_in(pool, 10**6, zero_for_one=False)
    assert swap.curve.creator_fee > 0
    assert swap.pool_after.creator_fees_0 == swap.curve.creator_fee
    assert swap.amount_out == swap.curve.output_from_curve - swap.curve.creator_fee
    assert swap.fee_amount == swap.curve.trade_fee


def test_price_impact_grows_with_size() -> None:
    small = swap_exact_in(POOL, 10**6, zero_for_one=True).price_impact_pct
    large = swap_exact_in(POOL, 10**8, zero_for_one=True).price_impact_pct
    assert Decimal(0) < small < large < Decimal(100)


@given(pool=cpmm_pools(), amount=st.integers(1, 10**19), zero_for_one=st.booleans())
def test_k_never_decreases_on_exact_in(pool: CpmmPool, amount: int, zero_for_one: bool) -> None:
    try:
        swap = swap_exact_in(pool, amount, zero_for_one)
    except CannotFill:
        return
    assert _k(swap.pool_after) >= _k(pool)


@given(pool=cpmm_pools(), share=st.integers(1, 10**6 - 1), zero_for_one=st.booleans())
def test_k_never_decreases_on_exact_out(pool: CpmmPool, share: int, zero_for_one: bool) -> None:
    _, output_reserve = pool.reserves(zero_for_one)
    amount_out = output_reserve * share // 10**6
    assume(amount_out > 0)
    try:
        swap = swap_exact_out(pool, amount_out, zero_for_one)
    except CannotFill:
        return
    assert swap.amount_out == amount_out
    assert _k(swap.pool_after) >= _k(pool)


@given(pool=cpmm_pools(), amount=st.integers(1, 10**19), zero_for_one=st.booleans())
def test_never_pays_out_more_than_it_holds(pool: CpmmPool, amount: int, zero_for_one: bool) -> None:
    try:
        swap = swap_exact_in(pool, amount, zero_for_one)
    except CannotFill:
        return
    _, output_reserve = pool.reserves(zero_for_one)
    assert 0 < swap.amount_out < output_reserve
    after_out = swap.pool_after.reserve_1 if zero_for_one else swap.pool_after.reserve_0
    assert after_out > 0


@given(
    pool=cpmm_pools(), amount=st.integers(1, 10**18), extra=st.integers(1, 10**18), zero_for_one=st.booleans()
)
def test_output_is_monotone_in_amount_in(pool: CpmmPool, amount: int, extra: int, zero_for_one: bool) -> None:
    try:
        smaller = swap_exact_in(pool, amount, zero_for_one).amount_out
        larger = swap_exact_in(pool, amount + extra, zero_for_one).amount_out
    except CannotFill:
        return
    assert larger >= smaller


@given(pool=cpmm_pools(creator_fee=False), share=st.integers(1, 999_999), zero_for_one=st.booleans())
def test_paying_the_exact_out_input_buys_at_least_that_output(
    pool: CpmmPool, share: int, zero_for_one: bool
) -> None:
    _, output_reserve = pool.reserves(zero_for_one)
    amount_out = output_reserve * share // 10**6
    assume(amount_out > 0)
    try:
        needed = swap_exact_out(pool, amount_out, zero_for_one).amount_in
    except CannotFill:
        return
    assert swap_exact_in(pool, needed, zero_for_one).amount_out >= amount_out


@given(
    pool=cpmm_pools(),
    trades=st.lists(st.tuples(st.integers(1, 10**15), st.booleans()), min_size=1, max_size=8),
)
def test_requoting_from_the_next_state_keeps_the_vault_ledger(
    pool: CpmmPool, trades: list[tuple[int, bool]]
) -> None:
    state, paid, received = pool, [0, 0], [0, 0]
    owed_before = (pool.protocol_fees_0 + pool.fund_fees_0, pool.protocol_fees_1 + pool.fund_fees_1)
    protocol_and_fund = [0, 0]
    for amount, zero_for_one in trades:
        try:
            swap = swap_exact_in(state, amount, zero_for_one)
        except CannotFill:
            continue
        side_in = 0 if zero_for_one else 1
        paid[side_in] += swap.amount_in
        received[1 - side_in] += swap.amount_out
        protocol_and_fund[side_in] += swap.curve.protocol_fee + swap.curve.fund_fee
        state = swap.pool_after
    assert state.vault_0 == pool.vault_0 + paid[0] - received[0]
    assert state.vault_1 == pool.vault_1 + paid[1] - received[1]
    assert state.protocol_fees_0 + state.fund_fees_0 == owed_before[0] + protocol_and_fund[0]
    assert state.protocol_fees_1 + state.fund_fees_1 == owed_before[1] + protocol_and_fund[1]


@given(
    pool=cpmm_pools(), first=st.integers(1, 10**16), second=st.integers(1, 10**16), zero_for_one=st.booleans()
)
def test_two_swaps_in_a_row_never_pay_more_than_one(
    pool: CpmmPool, first: int, second: int, zero_for_one: bool
) -> None:
    try:
        one = swap_exact_in(pool, first, zero_for_one)
        two = swap_exact_in(one.pool_after, second, zero_for_one)
    except CannotFill:
        return
    assert one.amount_out + two.amount_out <= swap_exact_in(pool, first + second, zero_for_one).amount_out


def test_a_vault_cannot_grow_past_a_u64() -> None:
    pool = CpmmPool(vault_0=2**64 - 10, vault_1=10**15)
    with pytest.raises(AmountTooLarge):
        swap_exact_in(pool, 10**9, zero_for_one=True)


def test_low_level_function_refuses_empty_reserves() -> None:
    with pytest.raises(InvalidPool):
        swap_base_input(10, 0, 10, 2_500, 0, 0, 0, False)
