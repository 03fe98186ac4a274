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
from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True, slots=True)
class _BinFill:
    """What one bin of a swap takes and gives: the net input into the bin, the output, the gross input
    consumed and the fee on it."""

    into_bin: int
    out: int
    consumed: int
    fee: int


def _fill_bin(left: int, max_in: int, max_out: int, price: int, rate: int, swap_for_y: bool) -> _BinFill:
    """How much of ``left`` (gross, fee included) one bin takes at fee ``rate``."""
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
    # The SDK reports no fee for a bin that took nothing net; the dust is still consumed.
    return _BinFill(into_bin, out, consumed, fee if into_bin else 0)


def _check_amount(amount_in: int) -> None:
    if amount_in <= 0:
        raise InvalidAmount("amount_in must be positive")
    if amount_in > U64_MAX:
        raise AmountTooLarge("amount_in exceeds a u64")


@dataclass(slots=True)
class _Walk:
    """A swap's walk across the bins so far."""

    left: int
    v_parameters: DlmmVParameters
    bins: dict[int, tuple[int, int]]
    used: list[int] = field(default_factory=list)
    total_out: int = 0
    fee_total: int = 0
    protocol_total: int = 0

    def step(self, pool: DlmmPool, bin_id: int, swap_for_y: bool) -> None:
        """Swap what is left through ``bin_id``."""
        parameters = pool.parameters
        self.v_parameters = replace(
            self.v_parameters,
            volatility_accumulator=volatility_accumulator_at(self.v_parameters, parameters, bin_id),
        )
        rate = total_fee_rate(pool.bin_step, parameters, self.v_parameters.volatility_accumulator)
        price = get_q_price_from_id(bin_id, pool.bin_step)
        if price == 0:
            raise InvalidPool(f"bin {bin_id} has no representable price at bin step {pool.bin_step}")
        amount_x, amount_y = self.bins[bin_id]
        max_out = amount_y if swap_for_y else amount_x
        fill = _fill_bin(
            self.left, _amount_in_for(max_out, price, swap_for_y), max_out, price, rate, swap_for_y
        )
        protocol_fee = fill.fee * parameters.protocol_share // BASIS_POINT_MAX
        self.left -= fill.consumed
        self.total_out += fill.out
        self.fee_total += fill.fee - protocol_fee
        self.protocol_total += protocol_fee
        if (amount_x if swap_for_y else amount_y) + fill.into_bin > U64_MAX:
            # The program's checked add fails the whole swap; the SDK does not check.
            raise AmountTooLarge(f"bin {bin_id} would hold more than a u64")
        if swap_for_y:
            self.bins[bin_id] = (amount_x + fill.into_bin, amount_y - fill.out)
        else:
            self.bins[bin_id] = (amount_x - fill.out, amount_y + fill.into_bin)
        self.used.append(bin_id)


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
    _check_amount(amount_in)
    v_parameters = update_references(pool.v_parameters, pool.parameters, pool.active_id, now)
    walk = _Walk(left=amount_in, v_parameters=v_parameters, bins=dict(pool.bins))
    for bin_id in _liquid_bins(pool, swap_for_y):
        if walk.left == 0:
            break
        walk.step(pool, bin_id, swap_for_y)
    if not walk.used or (walk.left > 0 and not allow_partial_fill):
        raise InsufficientLiquidity("the bins cannot fill the swap")
    return _result(pool, walk, amount_in - walk.left, swap_for_y, now)


def _result(pool: DlmmPool, walk: _Walk, consumed_total: int, swap_for_y: bool, now: int) -> DlmmSwap:
    final_rate = total_fee_rate(pool.bin_step, pool.parameters, walk.v_parameters.volatility_accumulator)
    net_total = consumed_total - mul_div(consumed_total, final_rate, FEE_PRECISION, round_up=True)
    ideal_out = _amount_out(net_total, get_q_price_from_id(walk.used[0], pool.bin_step), swap_for_y)
    pool_after = replace(
        pool,
        active_id=walk.used[-1],
        v_parameters=replace(walk.v_parameters, last_update_timestamp=now),
        bins=walk.bins,
    )
    return DlmmSwap(
        amount_in=consumed_total,
        amount_out=walk.total_out,
        fee=walk.fee_total,
        protocol_fee=walk.protocol_total,
        price_impact_pct=_sdk_price_impact_pct(walk.total_out, ideal_out),
        start_bin_id=walk.used[0],
        end_bin_id=walk.used[-1],
        bins_used=len(walk.used),
        pool_after=pool_after,
    )
