"""The package's public names, and the seeded default pools."""

from __future__ import annotations

import orders_venues
from orders_venues.meteora import swap_quote
from orders_venues.pools import DEFAULT_USD_PRICES, bin_id_for_price, default_pools, q64_price
from orders_venues.q64 import get_q_price_from_id
from orders_venues.raydium import swap_exact_in
from orders_venues.tokens import TOKENS


def test_every_exported_name_exists_and_nothing_private_is_exported() -> None:
    for name in orders_venues.__all__:
        assert hasattr(orders_venues, name), name
        assert not name.startswith("_")
    assert sorted(orders_venues.__all__) == sorted(set(orders_venues.__all__))


def test_default_pools_cover_the_five_pairs_at_their_reference_prices() -> None:
    pools = default_pools()
    assert list(pools) == ["SOL/USDC", "SOL/USDT", "USDC/USDT", "JUP/SOL", "BONK/SOL"]
    for name, pair in pools.items():
        price = q64_price(pair.base, pair.quote, DEFAULT_USD_PRICES)
        dlmm = pair.meteora
        # The active bin brackets the reference price.
        assert get_q_price_from_id(dlmm.active_id, dlmm.bin_step) <= price
        assert get_q_price_from_id(dlmm.active_id + 1, dlmm.bin_step) > price
        # The CPMM pool prices the pair within a basis point of the reference.
        cpmm = pair.raydium
        assert abs(cpmm.reserve_1 * 2**64 - price * cpmm.reserve_0) * 10_000 <= price * cpmm.reserve_0, name


def test_one_sol_sells_for_about_150_usdc_on_both_venues() -> None:
    pair = default_pools(now=0)["SOL/USDC"]
    one_sol = 10**9
    raydium_out = swap_exact_in(pair.raydium, one_sol, zero_for_one=True).amount_out
    meteora_out = swap_quote(pair.meteora, one_sol, swap_for_y=True, now=3_600).amount_out
    for out in (raydium_out, meteora_out):
        assert 149 * 10**6 < out < 150 * 10**6


def test_tokens_carry_their_mints_and_decimals() -> None:
    assert TOKENS["SOL"].decimals == 9
    assert TOKENS["BONK"].decimals == 5
    assert TOKENS["JUP"].mint == "JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN"


def test_bin_for_price_inverts_the_bin_price() -> None:
    for step in (1, 10, 25, 100):
        for bin_id in (-2_652, -1_899, 0, 602):
            assert bin_id_for_price(get_q_price_from_id(bin_id, step), step) == bin_id
