"""Hypothesis strategies for pools of both venues."""

from __future__ import annotations

from hypothesis import strategies as st

from orders_venues.meteora import DlmmParameters, DlmmPool, DlmmVParameters
from orders_venues.q64 import ONE, get_q_price_from_id
from orders_venues.raydium import CpmmPool, CreatorFeeOn

TRADE_FEE_TIERS = (100, 500, 2_500, 10_000, 20_000, 40_000)
BIN_STEPS = (1, 2, 5, 8, 10, 15, 20, 25, 50, 100, 250)
NOW = 1_750_000_000


@st.composite
def cpmm_pools(draw: st.DrawFn, *, creator_fee: bool = True) -> CpmmPool:
    """A CPMM pool with reserves over many orders of magnitude, any fee tier and some owed fees."""
    reserve_0 = draw(st.integers(1, 10**18))
    reserve_1 = draw(st.integers(1, 10**18))
    owed = st.integers(0, 10**6)
    protocol_fees_0, fund_fees_0, creator_fees_0 = draw(owed), draw(owed), draw(owed)
    protocol_fees_1, fund_fees_1, creator_fees_1 = draw(owed), draw(owed), draw(owed)
    protocol_fee_rate = draw(st.integers(0, 500_000))
    return CpmmPool(
        vault_0=reserve_0 + protocol_fees_0 + fund_fees_0 + creator_fees_0,
        vault_1=reserve_1 + protocol_fees_1 + fund_fees_1 + creator_fees_1,
        trade_fee_rate=draw(st.sampled_from(TRADE_FEE_TIERS) | st.integers(0, 100_000)),
        protocol_fee_rate=protocol_fee_rate,
        fund_fee_rate=draw(st.integers(0, 1_000_000 - protocol_fee_rate)),
        creator_fee_rate=draw(st.sampled_from((0, 1_000, 5_000))) if creator_fee else 0,
        creator_fee_on=draw(st.sampled_from(CreatorFeeOn)),
        protocol_fees_0=protocol_fees_0,
        protocol_fees_1=protocol_fees_1,
        fund_fees_0=fund_fees_0,
        fund_fees_1=fund_fees_1,
        creator_fees_0=creator_fees_0,
        creator_fees_1=creator_fees_1,
    )


@st.composite
def dlmm_pools(draw: st.DrawFn, *, min_filter_period: int = 0) -> DlmmPool:
    """A DLMM pair with up to 60 bins each side of the active bin, some empty, near any array boundary."""
    bin_step = draw(st.sampled_from(BIN_STEPS))
    limit = min(30_000, 200_000 // bin_step)
    active_id = draw(st.integers(-limit, limit))
    amount = st.integers(0, 10**13)
    below = draw(st.lists(amount, max_size=60))
    above = draw(st.lists(amount, max_size=60))
    bins: dict[int, tuple[int, int]] = {}
    for offset, amount_y in enumerate(below, start=1):
        bins[active_id - offset] = (0, amount_y)
    for offset, quote_value in enumerate(above, start=1):
        bin_id = active_id + offset
        bins[bin_id] = (min(quote_value * ONE // get_q_price_from_id(bin_id, bin_step), 10**18), 0)
    bins[active_id] = (draw(amount), draw(amount))
    filter_period = draw(st.integers(min_filter_period, 300))
    max_va = draw(st.integers(0, 500_000))
    va = draw(st.integers(0, max_va))
    parameters = DlmmParameters(
        base_factor=draw(st.integers(0, 20_000)),
        filter_period=filter_period,
        decay_period=filter_period + draw(st.integers(0, 1_200)),
        reduction_factor=draw(st.integers(0, 10_000)),
        variable_fee_control=draw(st.integers(0, 2_000_000)),
        max_volatility_accumulator=max_va,
        protocol_share=draw(st.integers(0, 10_000)),
    )
    v_parameters = DlmmVParameters(
        volatility_accumulator=va,
        volatility_reference=draw(st.integers(0, va)),
        index_reference=active_id + draw(st.integers(-30, 30)),
        last_update_timestamp=NOW - draw(st.integers(0, 2_000)),
    )
    return DlmmPool(bin_step, active_id, parameters, v_parameters, bins)
