"""Seeded generators of the cases the differential tests quote with our models and with the venues' SDKs.

The cases aim at the places where rounding and walking go wrong: tiny and huge amounts, extreme reserve
ratios, every fee tier, DLMM swaps that cross bin-array boundaries (70 bins per array), negative bin ids,
gaps without bin arrays, dust that the fee swallows, bins drained to the last unit, partial fills, and
sequences of swaps quoted again from our own next state.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from orders_venues.errors import CannotFill
from orders_venues.meteora import (
    DlmmParameters,
    DlmmPool,
    DlmmVParameters,
    swap_quote,
    total_fee_rate,
    update_references,
    volatility_accumulator_at,
)
from orders_venues.q64 import (
    BINS_PER_ARRAY,
    ONE,
    bin_array_bitmap,
    bin_id_to_bin_array_index,
    get_q_price_from_id,
    mul_div,
)

U64_MAX = (1 << 64) - 1
SEED = 20_251_125
TRADE_FEE_TIERS = (100, 500, 2_500, 10_000, 20_000, 40_000)
BIN_STEPS = (1, 2, 4, 5, 8, 10, 15, 16, 20, 25, 50, 80, 100, 200, 250, 400)


def _log_uniform(rng: random.Random, low_exp: int, high_exp: int) -> int:
    """An integer spread evenly over orders of magnitude 10**low_exp .. 10**high_exp."""
    exponent = rng.randint(low_exp, high_exp)
    return rng.randint(10**exponent, 10 ** (exponent + 1) - 1)


# ---------------------------------------------------------------- Raydium CPMM


@dataclass(frozen=True, slots=True)
class RaydiumCase:
    """One ``CurveCalculator`` call."""

    exact_in: bool
    amount: int
    input_reserve: int
    output_reserve: int
    trade_fee_rate: int
    creator_fee_rate: int
    protocol_fee_rate: int
    fund_fee_rate: int
    creator_fee_on_input: bool

    def to_json(self) -> dict[str, Any]:
        """The case as ``raydium.js`` reads it."""
        return {
            "kind": "base_input" if self.exact_in else "base_output",
            "amount": str(self.amount),
            "inputVault": str(self.input_reserve),
            "outputVault": str(self.output_reserve),
            "tradeFeeRate": str(self.trade_fee_rate),
            "creatorFeeRate": str(self.creator_fee_rate),
            "protocolFeeRate": str(self.protocol_fee_rate),
            "fundFeeRate": str(self.fund_fee_rate),
            "isCreatorFeeOnInput": self.creator_fee_on_input,
        }


def raydium_cases(count: int = 1_600, seed: int = SEED) -> list[RaydiumCase]:
    """``count`` CPMM cases: half exact input, half exact output."""
    rng = random.Random(seed)
    cases: list[RaydiumCase] = []
    for i in range(count):
        exact_in = i % 2 == 0
        input_reserve = _log_uniform(rng, 0, 18)
        output_reserve = _log_uniform(rng, 0, 18)
        trade = rng.choice((*TRADE_FEE_TIERS, rng.randint(1, 200_000)))
        creator = 0 if rng.random() < 0.6 else rng.choice((500, 1_000, 2_500, rng.randint(1, 100_000)))
        protocol = rng.choice((0, 120_000, 250_000, rng.randint(0, 500_000)))
        fund = rng.choice((0, 40_000, 100_000, rng.randint(0, 1_000_000 - protocol)))
        if exact_in:
            reference = input_reserve
            amount = max(1, reference * _log_uniform(rng, 0, 8) // 10 ** rng.randint(0, 14))
            if rng.random() < 0.1:
                amount = rng.randint(1, 1_000)
        else:
            reference = output_reserve
            amount = max(1, reference * rng.randint(1, 10**6) // 10 ** rng.randint(6, 16))
            if rng.random() < 0.05:
                # At or beyond the pool's whole output reserve.
                amount = output_reserve + rng.randint(0, 3)
        cases.append(
            RaydiumCase(
                exact_in=exact_in,
                amount=min(amount, U64_MAX),
                input_reserve=input_reserve,
                output_reserve=output_reserve,
                trade_fee_rate=trade,
                creator_fee_rate=creator,
                protocol_fee_rate=protocol,
                fund_fee_rate=fund,
                creator_fee_on_input=rng.random() < 0.5,
            )
        )
    return cases


# ---------------------------------------------------------------- Meteora DLMM


@dataclass(frozen=True, slots=True)
class MeteoraSwapCase:
    """One ``swapQuote`` on a hand-built pair; ``sequence``/``step`` tie follow-ups to their first swap."""

    pool: DlmmPool
    amount_in: int
    swap_for_y: bool
    now: int
    partial_fill: bool
    sequence: int
    step: int

    def to_json(self) -> dict[str, Any]:
        """The case as ``meteora.js`` reads it."""
        pool, p, v = self.pool, self.pool.parameters, self.pool.v_parameters
        array_indexes = {bin_id_to_bin_array_index(bin_id) for bin_id in pool.bins}
        return {
            "kind": "swap",
            "binStep": pool.bin_step,
            "activeId": pool.active_id,
            "parameters": parameters_json(p),
            "vParameters": {
                "volatilityAccumulator": v.volatility_accumulator,
                "volatilityReference": v.volatility_reference,
                "indexReference": v.index_reference,
                "lastUpdateTimestamp": str(v.last_update_timestamp),
            },
            "binArrayBitmap": [str(word) for word in bin_array_bitmap(array_indexes)],
            "bins": [[bin_id, str(x), str(y)] for bin_id, (x, y) in sorted(pool.bins.items())],
            "amountIn": str(self.amount_in),
            "swapForY": self.swap_for_y,
            "now": str(self.now),
            "partialFill": self.partial_fill,
        }


def parameters_json(parameters: DlmmParameters) -> dict[str, int]:
    """DLMM fee parameters as ``meteora.js`` reads them."""
    return {
        "baseFactor": parameters.base_factor,
        "filterPeriod": parameters.filter_period,
        "decayPeriod": parameters.decay_period,
        "reductionFactor": parameters.reduction_factor,
        "variableFeeControl": parameters.variable_fee_control,
        "maxVolatilityAccumulator": parameters.max_volatility_accumulator,
        "protocolShare": parameters.protocol_share,
        "baseFeePowerFactor": parameters.base_fee_power_factor,
    }


def _random_parameters(rng: random.Random) -> DlmmParameters:
    filter_period = rng.choice((0, 10, 30, 120, 300))
    power = 0 if rng.random() < 0.85 else rng.randint(1, 2)
    return DlmmParameters(
        base_factor=rng.choice((5_000, 8_000, 10_000, 20_000, rng.randint(1, 65_535))) // 10**power,
        filter_period=filter_period,
        decay_period=filter_period + rng.choice((0, 90, 570, 1_080, rng.randint(0, 5_000))),
        reduction_factor=rng.choice((5_000, 0, 10_000, rng.randint(0, 10_000))),
        variable_fee_control=rng.choice(
            (0, 7_500, 15_000, 40_000, 120_000, 2_000_000, rng.randint(0, 10**7))
        ),
        max_volatility_accumulator=rng.choice((100_000, 150_000, 350_000, rng.randint(0, 2_000_000))),
        protocol_share=rng.choice((0, 500, 1_000, 2_000, 2_500, rng.randint(0, 10_000))),
        base_fee_power_factor=power,
    )


def _random_bins(
    rng: random.Random, bin_step: int, active_id: int, max_id: int
) -> dict[int, tuple[int, int]]:
    down = rng.choice((0, rng.randint(1, 20), rng.randint(1, 160)))
    up = rng.choice((0, rng.randint(1, 20), rng.randint(1, 160)))
    density = rng.choice((1.0, 1.0, 0.9, 0.5, 0.1))
    low, high = max(-max_id, active_id - down), min(max_id, active_id + up)
    hole: range = range(0)
    if rng.random() < 0.2:
        # A run of empty bins long enough to leave whole bin arrays missing.
        start = rng.randint(low, high)
        hole = range(start, start + rng.randint(70, 220))
    value = _log_uniform(rng, 0, 14)  # quote units per bin, spread over orders of magnitude
    bins: dict[int, tuple[int, int]] = {}
    for bin_id in range(low, high + 1):
        if bin_id in hole or (bin_id != active_id and rng.random() > density):
            continue
        amount_y = max(1, value * rng.randint(50, 150) // 100)
        amount_x = min(U64_MAX // 4, max(1, amount_y * ONE // get_q_price_from_id(bin_id, bin_step)))
        if bin_id < active_id:
            bins[bin_id] = (0, amount_y)
        elif bin_id > active_id:
            bins[bin_id] = (amount_x, 0)
        else:
            side = rng.choice(("both", "both", "x", "y", "empty"))
            bins[bin_id] = (
                amount_x // 2 if side in ("both", "x") else 0,
                amount_y // 2 if side in ("both", "y") else 0,
            )
        if rng.random() < 0.03:
            bins[bin_id] = (0, 0)  # an initialised bin that has been drained
    return bins


def _random_pool(rng: random.Random, now: int) -> DlmmPool:
    bin_step = rng.choice(BIN_STEPS)
    # Prices within about e**+-25 keep amounts meaningful and every bin array inside the pair's own
    # bitmap (bins -35,840..35,839), which is all the SDK reads without a bitmap extension.
    max_id = min(35_000, 250_000 // bin_step)
    layout = rng.random()
    if layout < 0.5:
        array = rng.randint(-max_id // BINS_PER_ARRAY + 1, max_id // BINS_PER_ARRAY - 1)
        active_id = array * BINS_PER_ARRAY + rng.choice((0, 1, 68, 69, rng.randrange(BINS_PER_ARRAY)))
    elif layout < 0.8:
        active_id = rng.randint(-400, 400)
    else:
        active_id = rng.randint(-max_id + 200, max_id - 200)
    parameters = _random_parameters(rng)
    volatility_accumulator = rng.randint(0, parameters.max_volatility_accumulator)
    elapsed = rng.choice(
        (
            0,
            rng.randint(0, max(parameters.filter_period - 1, 0)),
            rng.randint(parameters.filter_period, parameters.decay_period),
            parameters.decay_period + rng.randint(0, 10_000),
        )
    )
    v_parameters = DlmmVParameters(
        volatility_accumulator=volatility_accumulator,
        volatility_reference=rng.randint(0, volatility_accumulator),
        index_reference=active_id + rng.randint(-60, 60),
        last_update_timestamp=now - elapsed,
    )
    return DlmmPool(
        bin_step=bin_step,
        active_id=active_id,
        parameters=parameters,
        v_parameters=v_parameters,
        bins=_random_bins(rng, bin_step, active_id, max_id),
    )


def _gross_inputs(pool: DlmmPool, swap_for_y: bool, now: int) -> list[int]:
    """Roughly the gross input that drains each liquid bin in walking order (the first one exactly)."""
    v = update_references(pool.v_parameters, pool.parameters, pool.active_id, now)
    if swap_for_y:
        ids = sorted((i for i, (_, y) in pool.bins.items() if y > 0 and i <= pool.active_id), reverse=True)
    else:
        ids = sorted(i for i, (x, _) in pool.bins.items() if x > 0 and i >= pool.active_id)
    grosses = []
    for bin_id in ids:
        amount_x, amount_y = pool.bins[bin_id]
        price = get_q_price_from_id(bin_id, pool.bin_step)
        if swap_for_y:
            max_in = mul_div(amount_y, ONE, price, round_up=True)
        else:
            max_in = mul_div(amount_x, price, ONE, round_up=True)
        va = volatility_accumulator_at(v, pool.parameters, bin_id)
        rate = total_fee_rate(pool.bin_step, pool.parameters, va)
        grosses.append(mul_div(max_in, 10**9, 10**9 - rate, round_up=True))
    return grosses


def _random_amount(rng: random.Random, pool: DlmmPool, swap_for_y: bool, now: int, partial_fill: bool) -> int:
    grosses = _gross_inputs(pool, swap_for_y, now)
    # Partial fills only show when the bins run out, so ask those cases for more, more often.
    pick = rng.random() if not partial_fill else rng.choice((rng.random(), 0.25))
    if not grosses or pick < 0.05:
        amount = rng.randint(1, 50)  # dust: the fee may take all of it
    elif pick < 0.2:
        # Right at the first bin's edge, where "drains" and "takes all that is left" meet.
        amount = grosses[0] + rng.randint(-3, 3)
    elif pick < 0.3:
        amount = sum(grosses) + rng.randint(0, max(1, sum(grosses) // 10))  # more than the bins hold
    else:
        crossed = rng.randint(0, len(grosses) - 1)
        amount = sum(grosses[:crossed]) + grosses[crossed] * rng.randint(0, 1_000) // 1_000
    return min(max(amount, 1), U64_MAX)


def meteora_swap_cases(count: int = 1_300, seed: int = SEED) -> list[MeteoraSwapCase]:
    """About ``count`` swap cases; a fifth of them start sequences quoted again from our next state."""
    rng = random.Random(seed)
    cases: list[MeteoraSwapCase] = []
    sequence = 0
    while len(cases) < count:
        sequence += 1
        now = rng.randint(1_700_000_000, 1_800_000_000)
        pool = _random_pool(rng, now)
        steps = rng.randint(2, 5) if rng.random() < 0.2 else 1
        for step in range(steps):
            swap_for_y = rng.random() < 0.5
            partial_fill = rng.random() < 0.15
            case = MeteoraSwapCase(
                pool=pool,
                amount_in=_random_amount(rng, pool, swap_for_y, now, partial_fill),
                swap_for_y=swap_for_y,
                now=now,
                partial_fill=partial_fill,
                sequence=sequence,
                step=step,
            )
            cases.append(case)
            try:
                result = swap_quote(
                    pool, case.amount_in, swap_for_y, now, allow_partial_fill=case.partial_fill
                )
            except CannotFill:
                break
            pool = result.pool_after
            now += rng.choice((0, 1, 29, 31, 300, 601, 5_000))
    return cases


def q_price_cases(count: int = 3_000, seed: int = SEED) -> list[tuple[int, int]]:
    """``(bin_id, bin_step)`` pairs over the whole id range, the exponent limits and both signs."""
    rng = random.Random(seed + 1)
    cases: list[tuple[int, int]] = []
    for step in (1, 2, 5, 10, 25, 100, 400):
        for bin_id in (0, 1, -1, 69, 70, -70, -71, 443_636, -443_636, 524_288, -524_288, 524_289, -524_289):
            cases.append((bin_id, step))
    while len(cases) < count:
        step = rng.choice((*BIN_STEPS, rng.randint(1, 500)))
        limit = 443_636 // step
        cases.append((rng.randint(-limit, limit), step))
    return cases


def bin_array_index_cases(seed: int = SEED) -> list[int]:
    """Bin ids on and around array boundaries, both signs."""
    rng = random.Random(seed + 2)
    ids = [0, 1, -1, 69, 70, 71, -69, -70, -71, -139, -140, -141, 443_636, -443_636]
    ids += [70 * rng.randint(-6_000, 6_000) + rng.choice((-1, 0, 1, 35)) for _ in range(300)]
    return ids


def fee_cases(count: int = 1_000, seed: int = SEED) -> list[tuple[int, DlmmParameters, int]]:
    """``(bin_step, parameters, volatility_accumulator)`` triples."""
    rng = random.Random(seed + 3)
    cases = []
    for _ in range(count):
        bin_step = rng.choice((*BIN_STEPS, rng.randint(1, 500)))
        parameters = _random_parameters(rng)
        cases.append((bin_step, parameters, rng.randint(0, parameters.max_volatility_accumulator)))
    return cases
