"""Meteora DLMM: liquidity in discrete price bins, to the base unit of ``swapQuote`` in ``@meteora-ag/dlmm``.

The math follows ``DLMM.swapQuote`` and the helpers of ``@meteora-ag/dlmm@1.9.14`` for pairs without limit
orders and with fees on the input (``functionType`` 1, ``collectFeeMode`` 0):

- Fees are rates over 1e9: a base fee ``base_factor * bin_step * 10 * 10**power`` plus a variable fee
  ``ceil(variable_fee_control * (va * bin_step)**2 / 1e11)`` that grows with the volatility accumulator
  ``va``, capped at 10%.
- Once per swap the references decay: after ``filter_period`` seconds the index reference moves to the active
  bin and the volatility reference becomes ``va * reduction_factor / 10_000``, or 0 after ``decay_period``.
- The swap walks bins from the active one (X to Y goes down, Y to X up), skipping bins with nothing on the
  output side. In each bin ``va`` is the reference plus 10,000 per bin away from the index reference, and the
  bin either drains (and the walk moves on) or takes all that is left.

The SDK does not return the next state. Ours moves each bin's amounts, leaves the active bin on the last bin
the swap used, keeps the updated volatility and stamps ``last_update_timestamp`` with ``now``; fees are held
outside the bins, as on chain, so the bins gain only the input net of fees.

Unlike the SDK, which reads bin arrays from the pair's own bitmap (arrays -512..511, bins -35,840..35,839)
and needs the bitmap extension beyond, the model reaches any bin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from .errors import AmountTooLarge, InsufficientLiquidity, InvalidAmount, InvalidPool
from .q64 import BASIS_POINT_MAX, ONE, get_q_price_from_id, mul_div
from .quote import IMPACT_CONTEXT, SwapQuote

FEE_PRECISION = 1_000_000_000
MAX_FEE_RATE = 100_000_000
# The SDK rounds the variable fee up over 1e11: (va * bin_step)**2 has 1e8 too many, the rate 1e9 too few.
VARIABLE_FEE_PRECISION = 100_000_000_000
U64_MAX = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class DlmmParameters:
    """The pair's static fee parameters (``lbPair.parameters``)."""

    base_factor: int
    filter_period: int
    decay_period: int
    reduction_factor: int
    variable_fee_control: int
    max_volatility_accumulator: int
    protocol_share: int = 0
    base_fee_power_factor: int = 0


@dataclass(frozen=True, slots=True)
class DlmmVParameters:
    """The pair's volatility state (``lbPair.vParameters``), which every swap updates."""

    volatility_accumulator: int = 0
    volatility_reference: int = 0
    index_reference: int = 0
    last_update_timestamp: int = 0


@dataclass(frozen=True, slots=True)
class DlmmPool:
    """A DLMM pair: bin step in basis points, active bin, fee parameters and bins ``id -> (x, y)``.

    Bin ``id`` prices token X at ``(1 + bin_step / 10_000) ** id`` units of Y per unit of X (base units).
    Treat ``bins`` as read-only: swaps return a new pool.
    """

    bin_step: int
    active_id: int
    parameters: DlmmParameters
    v_parameters: DlmmVParameters
    bins: Mapping[int, tuple[int, int]]

    def __post_init__(self) -> None:
        """Refuse states the program could never reach."""
        if self.bin_step <= 0:
            raise InvalidPool("bin_step must be positive")
        if not 0 <= self.parameters.protocol_share <= BASIS_POINT_MAX:
            raise InvalidPool("protocol_share must be within 0..10,000")
        for amount_x, amount_y in self.bins.values():
            if not (0 <= amount_x <= U64_MAX and 0 <= amount_y <= U64_MAX):
                raise InvalidPool("bin amounts must be u64 values")

    @property
    def reserve_x(self) -> int:
        """All token X in the bins."""
        return sum(amount_x for amount_x, _ in self.bins.values())

    @property
    def reserve_y(self) -> int:
        """All token Y in the bins."""
        return sum(amount_y for _, amount_y in self.bins.values())


@dataclass(frozen=True, slots=True)
class DlmmSwap:
    """A quoted swap: the SDK's figures, the bins it used and the pool after it.

    ``fee`` and ``protocol_fee`` are the SDK's ``fee`` (the LP share) and ``protocolFee``; a bin that took
    no net input reports no fee, as in the SDK.
    """

    amount_in: int
    amount_out: int
    fee: int
    protocol_fee: int
    price_impact_pct: Decimal
    start_bin_id: int
    end_bin_id: int
    bins_used: int
    pool_after: DlmmPool

    @property
    def fee_amount(self) -> int:
        """Every fee paid in the input token: the LP and protocol shares."""
        return self.fee + self.protocol_fee

    @property
    def quote(self) -> SwapQuote:
        """The venue-neutral quote."""
        return SwapQuote(self.amount_in, self.amount_out, self.fee_amount, self.price_impact_pct)


def base_fee_rate(bin_step: int, parameters: DlmmParameters) -> int:
    """The base fee rate over 1e9."""
    # An int ** int is not an int to mypy (negative powers give floats); the power factor is never negative.
    power: int = 10**parameters.base_fee_power_factor
    return parameters.base_factor * bin_step * 10 * power


def variable_fee_rate(bin_step: int, parameters: DlmmParameters, volatility_accumulator: int) -> int:
    """The variable fee rate over 1e9 for a volatility accumulator, rounded up."""
    if parameters.variable_fee_control <= 0:
        return 0
    squared = (volatility_accumulator * bin_step) ** 2
    return mul_div(parameters.variable_fee_control, squared, VARIABLE_FEE_PRECISION, round_up=True)


def total_fee_rate(bin_step: int, parameters: DlmmParameters, volatility_accumulator: int) -> int:
    """Base plus variable fee rate over 1e9, capped at 10%."""
    total = base_fee_rate(bin_step, parameters) + variable_fee_rate(
        bin_step, parameters, volatility_accumulator
    )
    return min(total, MAX_FEE_RATE)


def update_references(
    v_parameters: DlmmVParameters, parameters: DlmmParameters, active_id: int, now: int
) -> DlmmVParameters:
    """The volatility references at the start of a swap at unix time ``now``."""
    elapsed = now - v_parameters.last_update_timestamp
    if elapsed < parameters.filter_period:
        # A high-frequency trade keeps the references, so volatility keeps accumulating.
        return v_parameters
    if elapsed < parameters.decay_period:
        reference = v_parameters.volatility_accumulator * parameters.reduction_factor // BASIS_POINT_MAX
    else:
        reference = 0
    return replace(v_parameters, index_reference=active_id, volatility_reference=reference)


def volatility_accumulator_at(v_parameters: DlmmVParameters, parameters: DlmmParameters, bin_id: int) -> int:
    """The volatility accumulator while the swap is in bin ``bin_id``."""
    delta = abs(v_parameters.index_reference - bin_id)
    accumulated = v_parameters.volatility_reference + delta * BASIS_POINT_MAX
    return min(accumulated, parameters.max_volatility_accumulator)


def _amount_out(amount_in: int, price: int, swap_for_y: bool) -> int:
    if swap_for_y:
        return amount_in * price >> 64
    return (amount_in << 64) // price


def _amount_in_for(amount_out: int, price: int, swap_for_y: bool) -> int:
    if swap_for_y:
        return mul_div(amount_out, ONE, price, round_up=True)
    return mul_div(amount_out, price, ONE, round_up=True)


def _liquid_bins(pool: DlmmPool, swap_for_y: bool) -> list[int]:
    """Bin ids with output-side liquidity, in the order the swap walks them from the active bin."""
    if swap_for_y:
        return sorted((i for i, (_, y) in pool.bins.items() if y > 0 and i <= pool.active_id), reverse=True)
    return sorted(i for i, (x, _) in pool.bins.items() if x > 0 and i >= pool.active_id)


def _sdk_price_impact_pct(amount_out: int, ideal_out: int) -> Decimal:
    # The SDK's arithmetic step by step (decimal.js: subtract, divide, times 100, abs, each rounded to 20
    # significant digits), so that our figure equals its figure, not only its value to 20 digits.
    if ideal_out == 0:
        return Decimal(0)
    ctx = IMPACT_CONTEXT
    ratio = ctx.divide(ctx.subtract(Decimal(amount_out), Decimal(ideal_out)), Decimal(ideal_out))
    return ctx.abs(ctx.multiply(ratio, Decimal(100)))


def swap_quote(
    pool: DlmmPool,
    amount_in: int,
    swap_for_y: bool,
    now: int,
    *,
    allow_partial_fill: bool = False,
) -> DlmmSwap:
    """Quote swapping ``amount_in`` of X for Y (``swap_for_y``) or of Y for X at unix time ``now``.

    Without ``allow_partial_fill`` a swap the bins cannot fill raises ``InsufficientLiquidity``; with it,
    ``amount_in`` of the result is what the bins could take.
    """
    if amount_in <= 0:
        raise InvalidAmount("amount_in must be positive")
    if amount_in > U64_MAX:
        raise AmountTooLarge("amount_in exceeds a u64")
    parameters = pool.parameters
    v_parameters = update_references(pool.v_parameters, parameters, pool.active_id, now)
    left = amount_in
    total_out = fee_total = protocol_total = 0
    bins = dict(pool.bins)
    used: list[int] = []
    for bin_id in _liquid_bins(pool, swap_for_y):
        if left == 0:
            break
        amount_x, amount_y = bins[bin_id]
        v_parameters = replace(
            v_parameters,
            volatility_accumulator=volatility_accumulator_at(v_parameters, parameters, bin_id),
        )
        rate = total_fee_rate(pool.bin_step, parameters, v_parameters.volatility_accumulator)
        price = get_q_price_from_id(bin_id, pool.bin_step)
        if price == 0:
            raise InvalidPool(f"bin {bin_id} has no representable price at bin step {pool.bin_step}")
        max_out = amount_y if swap_for_y else amount_x
        max_in = _amount_in_for(max_out, price, swap_for_y)
        fee = mul_div(left, rate, FEE_PRECISION, round_up=True)
        net_in = left - fee
        if net_in > max_in:
            # The bin drains; gross up only what it took, so the rest walks on with its own fee.
            into_bin, out = max_in, max_out
            consumed = mul_div(max_in, FEE_PRECISION, FEE_PRECISION - rate, round_up=True)
            fee = consumed - max_in
        elif net_in == max_in:
            into_bin, out, consumed = max_in, max_out, left
        else:
            into_bin, out, consumed = net_in, _amount_out(net_in, price, swap_for_y), left
        if into_bin == 0:
            # The SDK reports no fee for a bin that took nothing net; the dust is still consumed.
            fee = 0
        protocol_fee = fee * parameters.protocol_share // BASIS_POINT_MAX
        left -= consumed
        total_out += out
        fee_total += fee - protocol_fee
        protocol_total += protocol_fee
        if (amount_x if swap_for_y else amount_y) + into_bin > U64_MAX:
            # The program's checked add fails the whole swap; the SDK does not check.
            raise AmountTooLarge(f"bin {bin_id} would hold more than a u64")
        if swap_for_y:
            bins[bin_id] = (amount_x + into_bin, amount_y - out)
        else:
            bins[bin_id] = (amount_x - out, amount_y + into_bin)
        used.append(bin_id)
    if not used or (left > 0 and not allow_partial_fill):
        raise InsufficientLiquidity("the bins cannot fill the swap")
    consumed_total = amount_in - left
    final_rate = total_fee_rate(pool.bin_step, parameters, v_parameters.volatility_accumulator)
    net_total = consumed_total - mul_div(consumed_total, final_rate, FEE_PRECISION, round_up=True)
    start_price = get_q_price_from_id(used[0], pool.bin_step)
    ideal_out = _amount_out(net_total, start_price, swap_for_y)
    pool_after = replace(
        pool,
        active_id=used[-1],
        v_parameters=replace(v_parameters, last_update_timestamp=now),
        bins=bins,
    )
    return DlmmSwap(
        amount_in=consumed_total,
        amount_out=total_out,
        fee=fee_total,
        protocol_fee=protocol_total,
        price_impact_pct=_sdk_price_impact_pct(total_out, ideal_out),
        start_bin_id=used[0],
        end_bin_id=used[-1],
        bins_used=len(used),
        pool_after=pool_after,
    )
