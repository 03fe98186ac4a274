"""Order checks that need the catalog: tokens, decimals, the u64 ceiling."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders_api.schemas import OrderRequest
from orders_api.validation import validate
from orders_shared.errors import InvalidOrder
from orders_venues import Catalog
from orders_venues.tokens import SOL, USDC, find_token


def _request(**fields: object) -> OrderRequest:
    return OrderRequest.model_validate({"tokenIn": "SOL", "tokenOut": "USDC", "amountIn": "1", **fields})


def test_tokens_are_found_by_symbol_any_case_or_mint() -> None:
    assert find_token("sol") is SOL
    assert find_token(USDC.mint) is USDC
    assert find_token("DOGE") is None


def test_valid_order_keeps_exact_amount_and_default_slippage() -> None:
    order = validate(_request(amountIn="1.500000000"), default_slippage_bps=50, catalog=Catalog())
    assert order.amount_in == Decimal("1.5")
    assert order.slippage_bps == 50
    assert (order.token_in, order.token_out) == (SOL, USDC)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"tokenIn": "DOGE"}, "tokenIn"),
        ({"tokenOut": "DOGE"}, "tokenOut"),
        ({"tokenOut": "SOL"}, "tokenOut"),
        ({"tokenOut": SOL.mint}, "tokenOut"),
        ({"amountIn": "0"}, "amountIn"),
        ({"amountIn": "-1"}, "amountIn"),
        ({"amountIn": "0.0000000001"}, "amountIn"),
        ({"amountIn": "1e30"}, "amountIn"),
        ({"tokenIn": "USDC", "tokenOut": "SOL", "amountIn": "1.0000001"}, "amountIn"),
    ],
)
def test_invalid_orders_name_the_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidOrder) as caught:
        validate(_request(**fields), default_slippage_bps=50, catalog=Catalog())
    assert caught.value.field == field


def test_largest_u64_amount_is_accepted_and_one_more_unit_is_not() -> None:
    largest = SOL.from_base_units(2**64 - 1)
    assert validate(_request(amountIn=str(largest)), 50, Catalog()).amount_in == largest
    with pytest.raises(InvalidOrder):
        validate(_request(amountIn=str(SOL.from_base_units(2**64))), 50, Catalog())
