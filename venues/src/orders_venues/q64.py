"""Q64.64 fixed-point price math of Meteora DLMM, bit-exact with ``@meteora-ag/dlmm``.

A bin's price is ``(1 + bin_step / 10_000) ** bin_id`` in Q64.64: an integer ``price`` meaning
``price / 2**64`` units of token Y per unit of token X. The SDK and the on-chain program compute it by
fixed-point square-and-multiply over 19 exponent bits, truncating every product; any other route to the
same real number differs in the last bits, and the last bits decide rounding of swap amounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

SCALE_OFFSET = 64
ONE = 1 << SCALE_OFFSET
U128_MAX = (1 << 128) - 1
BASIS_POINT_MAX = 10_000
# Exponents above this give 0, as in the SDK's ``pow`` (2**19: the 19 bits the loop looks at).
MAX_EXPONENTIAL = 0x80000
BINS_PER_ARRAY = 70
# The pair account's own bitmap covers bin arrays -512..511, bit ``index + 512`` in 16 u64 words.
BITMAP_WORDS = 16
BITMAP_OFFSET = 512
MIN_BITMAP_INDEX = -BITMAP_OFFSET
MAX_BITMAP_INDEX = BITMAP_OFFSET - 1


def mul_div(x: int, y: int, denominator: int, *, round_up: bool) -> int:
    """``x * y / denominator`` for non-negative integers, rounded down or up."""
    quotient, remainder = divmod(x * y, denominator)
    if round_up and remainder:
        return quotient + 1
    return quotient


def pow_q64(base: int, exp: int) -> int:
    """``base ** exp`` for a Q64.64 ``base``, exactly as the SDK's ``pow`` truncates it."""
    invert = exp < 0
    if exp == 0:
        return ONE
    exp = abs(exp)
    if exp > MAX_EXPONENTIAL:
        return 0
    squared = base
    result = ONE
    # The SDK works with a base below one, so that squaring cannot overflow a u128, and inverts at the end.
    if squared >= result:
        squared = U128_MAX // squared
        invert = not invert
    for bit in range(19):
        if exp >> bit & 1:
            result = (result * squared) >> SCALE_OFFSET
        squared = (squared * squared) >> SCALE_OFFSET
    if result == 0:
        return 0
    if invert:
        result = U128_MAX // result
    return result


def get_q_price_base_factor(bin_step: int) -> int:
    """``1 + bin_step / 10_000`` in Q64.64, truncated as the SDK does."""
    return ONE + (bin_step << SCALE_OFFSET) // BASIS_POINT_MAX


@lru_cache(maxsize=65_536)
def get_q_price_from_id(bin_id: int, bin_step: int) -> int:
    """The Q64.64 price of bin ``bin_id`` for a pair with ``bin_step`` basis points between bins."""
    return pow_q64(get_q_price_base_factor(bin_step), bin_id)


def bin_id_to_bin_array_index(bin_id: int) -> int:
    """The index of the 70-bin array holding ``bin_id`` (floor division, so -1 is in array -1)."""
    return bin_id // BINS_PER_ARRAY


def bin_array_bounds(index: int) -> tuple[int, int]:
    """The lowest and highest bin id of bin array ``index``."""
    lower = index * BINS_PER_ARRAY
    return lower, lower + BINS_PER_ARRAY - 1


def bin_array_bitmap(indexes: Iterable[int]) -> tuple[int, ...]:
    """The pair account's bitmap of existing bin arrays: 16 little-endian u64 words, bit ``index + 512``."""
    bitmap = 0
    for index in indexes:
        if not MIN_BITMAP_INDEX <= index <= MAX_BITMAP_INDEX:
            raise ValueError(f"bin array {index} is outside the pair's own bitmap (-512..511)")
        bitmap |= 1 << (index + BITMAP_OFFSET)
    return tuple((bitmap >> (64 * word)) & ((1 << 64) - 1) for word in range(BITMAP_WORDS))
