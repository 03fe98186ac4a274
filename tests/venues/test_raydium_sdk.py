"""Our Raydium CPMM model against ``CurveCalculator`` of ``@raydium-io/raydium-sdk-v2``, field by field."""

from __future__ import annotations

from collections import Counter

from orders_venues.errors import AmountTooLarge, AmountTooSmall, InsufficientLiquidity
from orders_venues.raydium import CurveSwap, swap_base_input, swap_base_output
from tests.venues.cases import RaydiumCase
from tests.venues.harness import SdkResult

U64_MAX = (1 << 64) - 1


def _ours(case: RaydiumCase) -> CurveSwap:
    swap = swap_base_input if case.exact_in else swap_base_output
    return swap(
        case.amount,
        case.input_reserve,
        case.output_reserve,
        case.trade_fee_rate,
        case.creator_fee_rate,
        case.protocol_fee_rate,
        case.fund_fee_rate,
        case.creator_fee_on_input,
    )


def _compare(case: RaydiumCase, sdk: SdkResult) -> tuple[str, str | None]:
    """The case's outcome, and a description of the disagreement, if any."""
    try:
        ours = _ours(case)
    except AmountTooSmall:
        # The SDK returns a zero or negative output, or divides by zero, where the chain refuses the swap.
        agrees = "error" in sdk or int(sdk["outputAmount"]) <= 0
        return "too small", None if agrees else f"we refuse as too small, the SDK gives {sdk}"
    except InsufficientLiquidity:
        # The SDK divides by zero, or by a negative reserve, when the output would empty the pool.
        agrees = "error" in sdk or int(sdk["newOutputVaultAmount"]) <= 0
        return "no liquidity", None if agrees else f"we refuse for liquidity, the SDK gives {sdk}"
    except AmountTooLarge:
        agrees = "error" not in sdk and int(sdk["inputAmount"]) > U64_MAX
        return "too large", None if agrees else f"we refuse as too large, the SDK gives {sdk}"
    if "error" in sdk:
        return "filled", f"we fill with {ours}, the SDK throws {sdk['error']}"
    expected = {
        "input_amount": int(sdk["inputAmount"]),
        "output_amount": int(sdk["outputAmount"]),
        "trade_fee": int(sdk["tradeFee"]),
        "protocol_fee": int(sdk["protocolFee"]),
        "fund_fee": int(sdk["fundFee"]),
        "creator_fee": int(sdk["creatorFee"]),
        "input_to_curve": int(sdk["newInputVaultAmount"]) - case.input_reserve,
        "output_from_curve": case.output_reserve - int(sdk["newOutputVaultAmount"]),
    }
    actual = {name: getattr(ours, name) for name in expected}
    if actual != expected:
        diff = {k: (actual[k], expected[k]) for k in expected if actual[k] != expected[k]}
        return "filled", f"fields (ours, SDK) differ: {diff}"
    return "filled", None


def test_every_generated_case_matches_the_sdk_to_the_base_unit(
    raydium_sdk: list[tuple[RaydiumCase, SdkResult]],
) -> None:
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    for case, sdk in raydium_sdk:
        outcome, problem = _compare(case, sdk)
        outcomes[outcome] += 1
        if problem is not None:
            failures.append(f"{case}: {problem}")
    examples = "\n".join(failures[:5])
    assert not failures, f"{len(failures)} of {len(raydium_sdk)} cases differ, e.g.\n{examples}"
    # The generator must keep reaching every outcome, or the comparison proves less than it claims.
    assert len(raydium_sdk) >= 1_000
    assert outcomes["filled"] >= 1_000
    assert outcomes["too small"] >= 20
    assert outcomes["no liquidity"] >= 10


def test_generated_cases_cover_every_fee_placement(raydium_sdk: list[tuple[RaydiumCase, SdkResult]]) -> None:
    kinds = Counter(
        (case.exact_in, case.creator_fee_rate > 0, case.creator_fee_on_input) for case, _ in raydium_sdk
    )
    assert len(kinds) == 8
    assert min(kinds.values()) >= 50
