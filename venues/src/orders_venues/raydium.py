"""Raydium CPMM: the constant-product pool, to the base unit of ``CurveCalculator`` in raydium-sdk-v2.

The math follows ``src/raydium/cpmm/curve/{calculator,constantProduct,fee}.ts`` of
``@raydium-io/raydium-sdk-v2@0.2.73-alpha``: rates over 1,000,000, the trade fee rounded up and taken from
the input, the protocol and fund fees rounded down as fractions of the trade fee, the curve output rounded
down and the exact-output input rounded up. The curve sees the vault balances less the protocol, fund and
creator fees the pool owes; the LP share of the trade fee stays in the pool, so ``k`` never decreases.

Creator fees follow the SDK. With the creator fee on the input of an exact-input swap the on-chain program
(since late 2025) rounds the trade and creator fees once together where the SDK rounds them apart; our pools
use a creator fee of 0, where the two agree.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from .errors import AmountTooLarge, AmountTooSmall, InsufficientLiquidity, InvalidAmount, InvalidPool
from .quote import SwapQuote, impact_pct

FEE_RATE_DENOMINATOR = 1_000_000
U64_MAX = (1 << 64) - 1


class CreatorFeeOn(enum.Enum):
    """Which token the pool's creator fee is charged in (the pool's ``creator_fee_on``)."""

    BOTH_TOKENS = 0
    ONLY_TOKEN_0 = 1
    ONLY_TOKEN_1 = 2


@dataclass(frozen=True, slots=True)
class CurveSwap:
    """One swap on the curve, as ``CurveCalculator.swapBaseInput``/``swapBaseOutput`` return it.

    ``input_to_curve`` and ``output_from_curve`` are how the curve's reserves move (the SDK's
    ``newInputVaultAmount - inputVault`` and ``outputVault - newOutputVaultAmount``).
    """

    input_amount: int
    output_amount: int
    trade_fee: int
    protocol_fee: int
    fund_fee: int
    creator_fee: int
    input_to_curve: int
    output_from_curve: int


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def trading_fee(amount: int, trade_fee_rate: int) -> int:
    """The trade fee on ``amount``: a fraction over 1,000,000, rounded up."""
    return _ceil_div(amount * trade_fee_rate, FEE_RATE_DENOMINATOR)


def share_of_fee(trade_fee: int, rate: int) -> int:
    """The protocol or fund share of a trade fee: a fraction over 1,000,000, rounded down."""
    return trade_fee * rate // FEE_RATE_DENOMINATOR


def pre_fee_amount(post_fee_amount: int, fee_rate: int) -> int:
    """The smallest gross amount that leaves ``post_fee_amount`` after a ``fee_rate`` fee, rounded up."""
    if fee_rate == 0:
        return post_fee_amount
    return _ceil_div(post_fee_amount * FEE_RATE_DENOMINATOR, FEE_RATE_DENOMINATOR - fee_rate)


def _check_curve(input_reserve: int, output_reserve: int) -> None:
    if input_reserve <= 0 or output_reserve <= 0:
        raise InvalidPool("both reserves of a CPMM pool must be positive")


@dataclass(frozen=True, slots=True)
class _Fees:
    """A curve swap's trade fee (split into its protocol and fund shares) and creator fee."""

    trade_fee: int
    protocol_fee_rate: int
    fund_fee_rate: int
    creator_fee: int

    def swap(self, input_amount: int, output_amount: int, into_curve: int, out_of_curve: int) -> CurveSwap:
        """The swap with these fees."""
        return CurveSwap(
            input_amount=input_amount,
            output_amount=output_amount,
            trade_fee=self.trade_fee,
            protocol_fee=share_of_fee(self.trade_fee, self.protocol_fee_rate),
            fund_fee=share_of_fee(self.trade_fee, self.fund_fee_rate),
            creator_fee=self.creator_fee,
            input_to_curve=into_curve,
            output_from_curve=out_of_curve,
        )


def swap_base_input(
    amount_in: int,
    input_reserve: int,
    output_reserve: int,
    trade_fee_rate: int,
    creator_fee_rate: int,
    protocol_fee_rate: int,
    fund_fee_rate: int,
    creator_fee_on_input: bool,
) -> CurveSwap:
    """Swap exactly ``amount_in`` into the curve (``CurveCalculator.swapBaseInput``).

    Raises ``AmountTooSmall`` where the SDK would return an output of 0 or less and the chain refuses
    (``require_gt!(amount_received, 0)``), ``AmountTooLarge`` beyond a u64.
    """
    if amount_in <= 0:
        raise InvalidAmount("amount_in must be positive")
    if amount_in > U64_MAX:
        raise AmountTooLarge("amount_in exceeds a u64")
    _check_curve(input_reserve, output_reserve)
    trade_fee = trading_fee(amount_in, trade_fee_rate)
    creator_fee = _ceil_div(amount_in * creator_fee_rate, FEE_RATE_DENOMINATOR) if creator_fee_on_input else 0
    net_in = amount_in - trade_fee - creator_fee
    if net_in <= 0:
        raise AmountTooSmall("the fees take the whole input")
    swapped_out = net_in * output_reserve // (input_reserve + net_in)
    if not creator_fee_on_input:
        creator_fee = _ceil_div(swapped_out * creator_fee_rate, FEE_RATE_DENOMINATOR)
    output_amount = swapped_out if creator_fee_on_input else swapped_out - creator_fee
    if output_amount <= 0:
        raise AmountTooSmall("the output rounds to zero")
    fees = _Fees(trade_fee, protocol_fee_rate, fund_fee_rate, creator_fee)
    return fees.swap(amount_in, output_amount, net_in, swapped_out)


def swap_base_output(
    amount_out: int,
    input_reserve: int,
    output_reserve: int,
    trade_fee_rate: int,
    creator_fee_rate: int,
    protocol_fee_rate: int,
    fund_fee_rate: int,
    creator_fee_on_input: bool,
) -> CurveSwap:
    """Swap for exactly ``amount_out`` out of the curve (``CurveCalculator.swapBaseOutput``)."""
    if amount_out <= 0:
        raise InvalidAmount("amount_out must be positive")
    _check_curve(input_reserve, output_reserve)
    # A creator fee on the output grosses the curve's output up, so the trader still receives amount_out.
    swapped_out = amount_out if creator_fee_on_input else pre_fee_amount(amount_out, creator_fee_rate)
    if swapped_out >= output_reserve:
        raise InsufficientLiquidity("the pool holds less than the requested output")
    swapped_in = _ceil_div(input_reserve * swapped_out, output_reserve - swapped_out)
    if creator_fee_on_input:
        fee_rate = trade_fee_rate + creator_fee_rate
        input_amount = pre_fee_amount(swapped_in, fee_rate)
        total_fee = input_amount - swapped_in
        creator_fee = total_fee * creator_fee_rate // fee_rate if fee_rate else 0
        trade_fee = total_fee - creator_fee
    else:
        input_amount = pre_fee_amount(swapped_in, trade_fee_rate)
        trade_fee = input_amount - swapped_in
        creator_fee = swapped_out - amount_out
    if input_amount > U64_MAX:
        raise AmountTooLarge("the required input exceeds a u64")
    fees = _Fees(trade_fee, protocol_fee_rate, fund_fee_rate, creator_fee)
    return fees.swap(input_amount, amount_out, swapped_in, swapped_out)


@dataclass(frozen=True, slots=True)
class CpmmPool:
    """A Raydium CPMM pool: vault balances, fee rates (over 1,000,000) and the fees it owes.

    The ``*_fees_*`` fields are fees accrued in the vaults but owed to the protocol, the fund and the
    creator; the curve's reserves are the vaults less those.
    """

    vault_0: int
    vault_1: int
    trade_fee_rate: int = 2_500
    protocol_fee_rate: int = 120_000
    fund_fee_rate: int = 40_000
    creator_fee_rate: int = 0
    creator_fee_on: CreatorFeeOn = CreatorFeeOn.BOTH_TOKENS
    protocol_fees_0: int = 0
    protocol_fees_1: int = 0
    fund_fees_0: int = 0
    fund_fees_1: int = 0
    creator_fees_0: int = 0
    creator_fees_1: int = 0

    def __post_init__(self) -> None:
        """Refuse states the program could never reach."""
        if min(self.trade_fee_rate, self.creator_fee_rate, self.protocol_fee_rate, self.fund_fee_rate) < 0:
            raise InvalidPool("fee rates cannot be negative")
        if self.trade_fee_rate + self.creator_fee_rate >= FEE_RATE_DENOMINATOR:
            raise InvalidPool("trade and creator fee rates must stay below 100%")
        if self.protocol_fee_rate + self.fund_fee_rate > FEE_RATE_DENOMINATOR:
            raise InvalidPool("protocol and fund shares cannot exceed the trade fee")
        owed = (
            self.protocol_fees_0,
            self.protocol_fees_1,
            self.fund_fees_0,
            self.fund_fees_1,
            self.creator_fees_0,
            self.creator_fees_1,
        )
        if min(owed) < 0:
            raise InvalidPool("owed fees cannot be negative")
        if self.reserve_0 <= 0 or self.reserve_1 <= 0:
            raise InvalidPool("both reserves of a CPMM pool must be positive")
        if max(self.vault_0, self.vault_1) > U64_MAX:
            raise InvalidPool("a vault balance exceeds a u64")

    @property
    def reserve_0(self) -> int:
        """Token 0 on the curve: the vault less the fees owed in token 0."""
        return self.vault_0 - self.protocol_fees_0 - self.fund_fees_0 - self.creator_fees_0

    @property
    def reserve_1(self) -> int:
        """Token 1 on the curve: the vault less the fees owed in token 1."""
        return self.vault_1 - self.protocol_fees_1 - self.fund_fees_1 - self.creator_fees_1

    def reserves(self, zero_for_one: bool) -> tuple[int, int]:
        """The input and output reserves for a swap in the given direction."""
        if zero_for_one:
            return self.reserve_0, self.reserve_1
        return self.reserve_1, self.reserve_0

    def creator_fee_on_input(self, zero_for_one: bool) -> bool:
        """Whether a swap in this direction pays the creator fee in its input token."""
        if self.creator_fee_on is CreatorFeeOn.BOTH_TOKENS:
            return True
        return (self.creator_fee_on is CreatorFeeOn.ONLY_TOKEN_0) == zero_for_one


@dataclass(frozen=True, slots=True)
class CpmmSwap:
    """A swap on a CPMM pool: the curve's figures, the price impact and the pool after the swap."""

    zero_for_one: bool
    curve: CurveSwap
    price_impact_pct: Decimal
    pool_after: CpmmPool

    @property
    def amount_in(self) -> int:
        """What the trader pays, fees included."""
        return self.curve.input_amount

    @property
    def amount_out(self) -> int:
        """What the trader receives."""
        return self.curve.output_amount

    @property
    def fee_amount(self) -> int:
        """Every fee paid in the input token: the trade fee, and the creator fee when it is on the input."""
        on_input = self.pool_after.creator_fee_on_input(self.zero_for_one)
        return self.curve.trade_fee + (self.curve.creator_fee if on_input else 0)

    @property
    def quote(self) -> SwapQuote:
        """The venue-neutral quote."""
        return SwapQuote(self.amount_in, self.amount_out, self.fee_amount, self.price_impact_pct)


def apply_swap(pool: CpmmPool, curve: CurveSwap, zero_for_one: bool) -> CpmmPool:
    """The pool after ``curve``: the input vault takes the whole input and the owed fees grow."""
    on_input = pool.creator_fee_on_input(zero_for_one)
    creator_in = curve.creator_fee if on_input else 0
    creator_out = 0 if on_input else curve.creator_fee
    if zero_for_one:
        return replace(
            pool,
            vault_0=pool.vault_0 + curve.input_amount,
            vault_1=pool.vault_1 - curve.output_amount,
            protocol_fees_0=pool.protocol_fees_0 + curve.protocol_fee,
            fund_fees_0=pool.fund_fees_0 + curve.fund_fee,
            creator_fees_0=pool.creator_fees_0 + creator_in,
            creator_fees_1=pool.creator_fees_1 + creator_out,
        )
    return replace(
        pool,
        vault_1=pool.vault_1 + curve.input_amount,
        vault_0=pool.vault_0 - curve.output_amount,
        protocol_fees_1=pool.protocol_fees_1 + curve.protocol_fee,
        fund_fees_1=pool.fund_fees_1 + curve.fund_fee,
        creator_fees_1=pool.creator_fees_1 + creator_in,
        creator_fees_0=pool.creator_fees_0 + creator_out,
    )


def _curve_impact_pct(curve: CurveSwap, input_reserve: int, output_reserve: int) -> Decimal:
    # Spot output for the net input is input_to_curve * y / x; compare the curve's output with it, fees
    # excluded on both sides, as the DLMM SDK does for its price impact.
    ideal = curve.input_to_curve * output_reserve
    return impact_pct(ideal - curve.output_from_curve * input_reserve, ideal)


def _finish(pool: CpmmPool, curve: CurveSwap, zero_for_one: bool) -> CpmmSwap:
    input_vault = pool.vault_0 if zero_for_one else pool.vault_1
    if input_vault + curve.input_amount > U64_MAX:
        # The token program refuses a transfer that would take the vault past a u64.
        raise AmountTooLarge("the input vault would exceed a u64")
    input_reserve, output_reserve = pool.reserves(zero_for_one)
    return CpmmSwap(
        zero_for_one=zero_for_one,
        curve=curve,
        price_impact_pct=_curve_impact_pct(curve, input_reserve, output_reserve),
        pool_after=apply_swap(pool, curve, zero_for_one),
    )


_Calculator = Callable[[int, int, int, int, int, int, int, bool], CurveSwap]


def _through_curve(pool: CpmmPool, amount: int, zero_for_one: bool, calculator: _Calculator) -> CpmmSwap:
    """Run ``calculator`` (exact in or exact out) on the pool's reserves and fees in this direction."""
    input_reserve, output_reserve = pool.reserves(zero_for_one)
    curve = calculator(
        amount,
        input_reserve,
        output_reserve,
        pool.trade_fee_rate,
        pool.creator_fee_rate,
        pool.protocol_fee_rate,
        pool.fund_fee_rate,
        pool.creator_fee_on_input(zero_for_one),
    )
    return _finish(pool, curve, zero_for_one)


def swap_exact_in(pool: CpmmPool, amount_in: int, zero_for_one: bool) -> CpmmSwap:
    """Swap exactly ``amount_in`` of token 0 (``zero_for_one``) or token 1 on ``pool``."""
    return _through_curve(pool, amount_in, zero_for_one, swap_base_input)


def swap_exact_out(pool: CpmmPool, amount_out: int, zero_for_one: bool) -> CpmmSwap:
    """Swap for exactly ``amount_out`` of the other token on ``pool``."""
    return _through_curve(pool, amount_out, zero_for_one, swap_base_output)
