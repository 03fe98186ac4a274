"""Our Meteora DLMM model against ``@meteora-ag/dlmm``: prices, bin arrays, fees and ``swapQuote``."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from orders_venues.errors import AmountTooLarge, InsufficientLiquidity
from orders_venues.meteora import (
    DlmmSwap,
    base_fee_rate,
    swap_quote,
    total_fee_rate,
    variable_fee_rate,
)
from orders_venues.q64 import bin_id_to_bin_array_index, get_q_price_from_id
from tests.venues.cases import MeteoraSwapCase
from tests.venues.harness import MeteoraSdkRun, SdkResult

U64_MAX = (1 << 64) - 1


def test_q64_prices_are_bit_exact(meteora_sdk: MeteoraSdkRun) -> None:
    differ = [
        (bin_id, step, get_q_price_from_id(bin_id, step), sdk["price"])
        for (bin_id, step), sdk in meteora_sdk.prices
        if get_q_price_from_id(bin_id, step) != int(sdk["price"])
    ]
    assert not differ, f"{len(differ)} prices differ, e.g. (id, step, ours, SDK) {differ[:5]}"
    assert len(meteora_sdk.prices) >= 1_000


def test_bin_array_indexes_match(meteora_sdk: MeteoraSdkRun) -> None:
    differ = [
        (bin_id, bin_id_to_bin_array_index(bin_id), sdk["index"])
        for bin_id, sdk in meteora_sdk.array_indexes
        if bin_id_to_bin_array_index(bin_id) != int(sdk["index"])
    ]
    assert not differ, f"bin array indexes differ (id, ours, SDK): {differ[:5]}"


def test_fee_rates_match(meteora_sdk: MeteoraSdkRun) -> None:
    differ = []
    for (step, parameters, va), sdk in meteora_sdk.fees:
        ours = (
            base_fee_rate(step, parameters),
            variable_fee_rate(step, parameters, va),
            total_fee_rate(step, parameters, va),
        )
        if ours != (int(sdk["baseFee"]), int(sdk["variableFee"]), int(sdk["totalFee"])):
            differ.append((step, parameters, va, ours, sdk))
    assert not differ, f"{len(differ)} fee rates differ, e.g. {differ[:3]}"


def _could_overflow_a_bin(case: MeteoraSwapCase) -> bool:
    """Whether some bin's input side plus the whole input would pass a u64, which the chain refuses."""
    side = 0 if case.swap_for_y else 1
    return any(amounts[side] + case.amount_in > U64_MAX for amounts in case.pool.bins.values())


def _compare(case: MeteoraSwapCase, sdk: SdkResult) -> tuple[DlmmSwap | str, str | None]:
    try:
        ours = swap_quote(
            case.pool, case.amount_in, case.swap_for_y, case.now, allow_partial_fill=case.partial_fill
        )
    except InsufficientLiquidity:
        return "no liquidity", None if "error" in sdk else f"we refuse for liquidity, the SDK gives {sdk}"
    except AmountTooLarge:
        agrees = "error" not in sdk and _could_overflow_a_bin(case)
        return "overflow", None if agrees else f"we refuse a bin overflow, the SDK gives {sdk}"
    if "error" in sdk:
        return ours, f"we fill with {ours}, the SDK throws {sdk['error']}"
    expected = (
        int(sdk["consumedInAmount"]),
        int(sdk["outAmount"]),
        int(sdk["fee"]),
        int(sdk["protocolFee"]),
    )
    actual = (ours.amount_in, ours.amount_out, ours.fee, ours.protocol_fee)
    if actual != expected:
        return ours, f"(in, out, fee, protocol fee) ours {actual}, SDK {expected}"
    impact = Decimal(sdk["priceImpact"])
    if impact.is_finite() and impact != ours.price_impact_pct:
        return ours, f"price impact ours {ours.price_impact_pct}, SDK {impact}"
    if not impact.is_finite() and ours.price_impact_pct != 0:
        # The SDK divides by a zero no-impact output; we report no impact.
        return ours, f"price impact ours {ours.price_impact_pct}, SDK {impact}"
    return ours, None


def test_every_swap_quote_matches_the_sdk_to_the_base_unit(meteora_sdk: MeteoraSdkRun) -> None:
    failures: list[str] = []
    coverage: Counter[str] = Counter()
    for case, sdk in meteora_sdk.swaps:
        outcome, problem = _compare(case, sdk)
        if problem is not None:
            failures.append(f"sequence {case.sequence} step {case.step}, {case.amount_in=}: {problem}")
        if isinstance(outcome, str):
            coverage[outcome] += 1
            continue
        coverage["filled"] += 1
        start, end = outcome.start_bin_id, outcome.end_bin_id
        if bin_id_to_bin_array_index(start) != bin_id_to_bin_array_index(end):
            coverage["crosses a bin array"] += 1
        if min(start, end) < 0:
            coverage["negative bin ids"] += 1
        if outcome.amount_in < case.amount_in:
            coverage["partial fill"] += 1
        if outcome.bins_used >= 10:
            coverage["ten bins or more"] += 1
        if case.step > 0:
            coverage["quoted from our next state"] += 1
        if outcome.price_impact_pct > 0:
            coverage["price impact"] += 1
    examples = "\n".join(failures[:5])
    assert not failures, f"{len(failures)} of {len(meteora_sdk.swaps)} cases differ, e.g.\n{examples}"
    assert len(meteora_sdk.swaps) >= 1_000
    assert coverage["filled"] >= 800, coverage
    for kind in ("crosses a bin array", "negative bin ids", "ten bins or more", "quoted from our next state"):
        assert coverage[kind] >= 100, coverage
    for kind in ("no liquidity", "partial fill", "price impact"):
        assert coverage[kind] >= 20, coverage
