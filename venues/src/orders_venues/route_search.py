"""The route search: the best single venue, or the best split of an order across venues.

A venue is a quote function ``amount_in -> amount_out`` that raises ``CannotFill`` when it cannot fill an
amount. Each venue's output is concave in its input (prices only worsen and fees only grow along a swap),
so the total output of sending ``x`` to one venue and the rest to the other, ``a(x) + b(amount_in - x)``,
is concave in ``x``: it peaks where the two venues' marginal prices meet, or against a venue's depth.

For two venues ``best_route`` searches that total over integer splits:

- First the grid's own first step, 5% of the order moved off the best single venue (the same four
  quotes): if it does not pay, by concavity no split does. When the other venue cannot take even 5%, a
  step of ``amount_in / 1024`` decides instead.
- Then Brent's method: parabolic steps through the three best splits seen, golden-section steps when a
  parabola does not close in, until the best split is bracketed to ``amount_in / 512``. A split one venue
  cannot fill closes the bracket on its side; the output may rise all the way to that venue's depth, so
  the search halves its way there, to ``amount_in / 2**16``.
- Last, a 5% allocation that close to the result: on a concave output the grid's best allocation is next
  to the maximum, so the search does no worse than the grid (but for the quotes' rounding, where the
  output is flat across many splits).

A searched route takes about half the quotes of the grid (10 to 32, 20 on average, against 40) and is not
held to multiples of 5%. With more than two venues, under 20 base units (where the 5% grid already tries
every split) or with an explicit ``step_pct``, ``best_route`` is ``grid_route``: every allocation in
``step_pct`` steps (21 for two venues at 5%, 231 for three). It is also the reference the search is
tested against.

Both keep the same promises: the best single venue is always a candidate and a tie goes to fewer legs, so
an order is split only when the split pays, and leg amounts sum exactly to the order. A leg's ``percent``
is its share of the order: exact in the grid; in a searched split rounded to the nearest percent, at least
1 for each leg, the two summing to 100, while the amounts stay exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from .errors import CannotFill, InvalidAmount, Unroutable

QuoteFn = Callable[[int], int]

# Brent's method stops when the best split is bracketed to 2 * amount_in / 1024 (0.2%): the output is flat
# near an interior maximum, so that costs next to nothing.
_RESOLUTION = 1_024
# Against a venue's depth the output is steep: the best split is placed to within amount_in / 2**16 there.
_CLIFF_RESOLUTION = 1 << 16
# (3 - sqrt(5)) / 2: the golden-section step, as a fraction of the larger side of the bracket.
_GOLDEN_NUM, _GOLDEN_DEN = 381_966, 1_000_000
# The first step off the best venue, as in the grid: when it does not pay, no split does.
_FIRST_STEP_PCT = 5
# More than enough for the bracket to close; a guard against a quote function that is far from concave.
_MAX_PROBES = 64
# Output of a split that cannot be filled: below any real output, which is never negative.
_UNFILLED = -1


@dataclass(frozen=True, slots=True)
class Leg:
    """One venue's part of a route."""

    venue: str
    percent: int
    amount_in: int
    amount_out: int


@dataclass(frozen=True, slots=True)
class Route:
    """The chosen legs, with each venue's quote for the whole order for the record.

    ``single_quotes`` maps each venue to its output for the whole order, or ``None`` when it cannot fill
    it; ``best_single`` is the best of those, or ``None`` when no venue can fill the order alone.
    """

    legs: tuple[Leg, ...]
    amount_in: int
    amount_out: int
    single_quotes: Mapping[str, int | None]
    best_single: Leg | None

    @property
    def is_split(self) -> bool:
        """Whether the order goes to more than one venue."""
        return len(self.legs) > 1


def _allocations(units: int, venues: int) -> Iterator[tuple[int, ...]]:
    """Every way to share ``units`` steps among ``venues`` venues, in a fixed order."""
    if venues == 1:
        yield (units,)
        return
    for first in range(units, -1, -1):
        for rest in _allocations(units - first, venues - 1):
            yield (first, *rest)


def _leg_amounts(amount_in: int, percents: tuple[int, ...]) -> list[int]:
    """Each leg's amount: its percentage rounded down, the last non-empty leg taking the remainder."""
    amounts = [amount_in * percent // 100 for percent in percents]
    last = max(i for i, percent in enumerate(percents) if percent > 0)
    amounts[last] = amount_in - sum(amounts[:last]) - sum(amounts[last + 1 :])
    return amounts


class _Quotes:
    """Memoised quotes, so each venue is asked once per distinct amount."""

    def __init__(self, venues: Mapping[str, QuoteFn]) -> None:
        self._venues = venues
        self._cache: dict[tuple[str, int], int | None] = {}

    def get(self, venue: str, amount: int) -> int | None:
        """The venue's output for ``amount``, or ``None`` when it cannot fill it."""
        key = (venue, amount)
        if key not in self._cache:
            try:
                self._cache[key] = self._venues[venue](amount)
            except CannotFill:
                self._cache[key] = None
        return self._cache[key]


@dataclass(frozen=True, slots=True)
class _Singles:
    """Each venue's quote for the whole order, and the best of them."""

    quotes: dict[str, int | None]
    best: Leg | None


def _check_order(venues: Mapping[str, QuoteFn], amount_in: int) -> None:
    if amount_in <= 0:
        raise InvalidAmount("amount_in must be positive")
    if not venues:
        raise Unroutable("no venues to route to")


def _singles(quotes: _Quotes, names: list[str], amount_in: int) -> _Singles:
    single_quotes = {name: quotes.get(name, amount_in) for name in names}
    filled = [(out, name) for name, out in single_quotes.items() if out is not None]
    if not filled:
        return _Singles(single_quotes, None)
    # max() keeps the first of equal outputs, so ties go to the venue listed first.
    out, name = max(filled, key=lambda pair: pair[0])
    return _Singles(single_quotes, Leg(name, 100, amount_in, out))


def _single_route(singles: _Singles, amount_in: int) -> Route:
    assert singles.best is not None
    return Route(
        legs=(singles.best,),
        amount_in=amount_in,
        amount_out=singles.best.amount_out,
        single_quotes=singles.quotes,
        best_single=singles.best,
    )


def _split_may_pay(quotes: _Quotes, names: list[str], best: Leg, amount_in: int, step: int) -> bool:
    """Whether moving ``step`` of the order off the best venue could pay.

    By concavity, if the first step taken off the best venue earns less elsewhere than it earned there, no
    larger share can either: the search is needed only when this says so. It saves most of the quotes of an
    order too small to move a pool.
    """
    if step <= 0 or step >= amount_in:
        return len(names) > 1
    kept = quotes.get(best.venue, amount_in - step)
    if kept is None:
        return True
    lost = best.amount_out - kept
    for name in names:
        if name != best.venue:
            gained = quotes.get(name, step)
            if gained is not None and gained > lost:
                return True
    return False


def grid_route(venues: Mapping[str, QuoteFn], amount_in: int, *, step_pct: int = 5) -> Route:
    """The route with the largest output among every allocation of ``amount_in`` in ``step_pct`` steps.

    Raises ``Unroutable`` when no single venue and no allocation can fill the order.
    """
    _check_order(venues, amount_in)
    if not 1 <= step_pct <= 100 or 100 % step_pct:
        raise ValueError("step_pct must divide 100")
    names = list(venues)
    quotes = _Quotes(venues)
    singles = _singles(quotes, names, amount_in)
    if singles.best is not None and not _split_may_pay(
        quotes, names, singles.best, amount_in, amount_in * step_pct // 100
    ):
        return _single_route(singles, amount_in)
    best: tuple[int, int, tuple[Leg, ...]] | None = None
    for units in _allocations(100 // step_pct, len(names)):
        percents = tuple(unit * step_pct for unit in units)
        amounts = _leg_amounts(amount_in, percents)
        legs: list[Leg] = []
        for name, percent, amount in zip(names, percents, amounts, strict=True):
            if percent == 0:
                continue
            out = quotes.get(name, amount) if amount > 0 else None
            if out is None:
                break
            legs.append(Leg(name, percent, amount, out))
        else:
            total = sum(leg.amount_out for leg in legs)
            # Larger output first, then fewer legs: a split must pay strictly to be chosen.
            if best is None or (total, -len(legs)) > (best[0], -best[1]):
                best = (total, len(legs), tuple(legs))
    if best is None:
        raise Unroutable("no venue and no split can fill the order")
    return Route(
        legs=best[2],
        amount_in=amount_in,
        amount_out=best[0],
        single_quotes=singles.quotes,
        best_single=singles.best,
    )


class _Split:
    """Splits of the order between two venues: ``x`` to ``first``, the rest to ``second``.

    It keeps the best split probed. A probe asks first the venue whose part grows from the best split's,
    the one that may be past its depth, so that a split it cannot fill usually costs one quote.
    """

    def __init__(self, quotes: _Quotes, first: str, second: str, amount_in: int) -> None:
        self.quotes, self.first, self.second, self.amount_in = quotes, first, second, amount_in
        self.best_x, self.best_out = 0, _UNFILLED

    def probe(self, x: int) -> tuple[int, str | None]:
        """Both venues' output together, or ``_UNFILLED`` and a venue that cannot fill its part."""
        parts = [(self.first, x), (self.second, self.amount_in - x)]
        if x < self.best_x:
            parts.reverse()
        total = 0
        for venue, amount in parts:
            out = self.quotes.get(venue, amount)
            if out is None:
                return _UNFILLED, venue
            total += out
        if total > self.best_out:
            self.best_x, self.best_out = x, total
        return total, None

    def single(self, venue: str) -> int:
        """The venue's output for the whole order, or ``_UNFILLED``."""
        out = self.quotes.get(venue, self.amount_in)
        return _UNFILLED if out is None else out

    def total(self, x: int) -> int:
        """Both venues' output together, or ``_UNFILLED``."""
        return self.probe(x)[0]

    def legs(self) -> tuple[Leg, Leg]:
        """The best split probed as legs, in the venues' order."""
        x, amount_in = self.best_x, self.amount_in
        out_first, out_second = self.quotes.get(self.first, x), self.quotes.get(self.second, amount_in - x)
        assert out_first is not None
        assert out_second is not None
        # The nearest percent, kept within 1..99 so that both legs show.
        percent = min(max((200 * x + amount_in) // (2 * amount_in), 1), 99)
        return (
            Leg(self.first, percent, x, out_first),
            Leg(self.second, 100 - percent, amount_in - x, out_second),
        )


def _parabolic_step(x: int, fx: int, w: int, fw: int, v: int, fv: int) -> tuple[int, int] | None:
    """The vertex of the parabola through three splits as ``x + p / q`` (``q > 0``), if there is one."""
    if min(fw, fv) < 0 or len({x, w, v}) < 3:
        return None
    r = (x - w) * (fx - fv)
    q = (x - v) * (fx - fw)
    p = (x - v) * q - (x - w) * r
    q = 2 * (q - r)
    if q > 0:
        p = -p
    return (p, abs(q)) if q else None


def _first_fillable(split: _Split) -> tuple[int, int, int] | None:
    """A split both venues can fill, and a bracket ``(low, x, high)`` around the best split; or None.

    A venue that cannot fill an amount is taken not to fill a larger one, so the bracket halves towards
    the venue that could not fill its part.
    """
    low, high = 0, split.amount_in
    while True:
        x = (low + high) // 2
        if x <= low:
            return None
        _, failed = split.probe(x)
        if failed is None:
            return low, x, high
        if failed == split.first:
            high = x
        else:
            low = x


def _maximise(split: _Split, low: int, x: int, high: int, tol: int, fine: int) -> tuple[int, int]:
    """Brent's maximisation of the total output between ``low`` and ``high``, from the split ``x``.

    Parabolic steps through the three best splits seen, golden-section steps when a parabola would not
    shrink the bracket fast enough, until the best split is known to within ``2 * tol``. A split that a
    venue cannot fill closes the bracket on its side like a worse one: the other venue's part only grows
    that way. While an end of the bracket is such a split, the search first halves the way to it, down to
    ``fine``: the output may rise all the way to that venue's depth and fall off a cliff there, so being
    short of it costs its slope, not its curvature; and such a probe usually costs one quote. Returns the
    final bracket.
    """
    fx = split.total(x)
    # The ends are single venues or splits a venue cannot fill: they seed the first parabola.
    f_low = split.single(split.second) if low == 0 else _UNFILLED
    f_high = split.single(split.first) if high == split.amount_in else _UNFILLED
    low_unfilled, high_unfilled = f_low == _UNFILLED, f_high == _UNFILLED
    (w, fw), (v, fv) = sorted(((low, f_low), (high, f_high)), key=lambda point: -point[1])
    step, previous = 0, high - low
    for _ in range(_MAX_PROBES):
        if low_unfilled and x - low > fine:
            step = previous = -((x - low) // 2)
        elif high_unfilled and high - x > fine:
            step = previous = (high - x) // 2
        elif max(x - low, high - x) <= 2 * tol:
            break
        else:
            step, previous = _brent_step(x, fx, w, fw, v, fv, low, high, tol, step, previous)
        u = min(max(x + step, low + 1), high - 1)
        if u == x:
            break
        fu = split.total(u)
        if fu >= fx:
            if u >= x:
                low, low_unfilled = x, False
            else:
                high, high_unfilled = x, False
            v, fv, w, fw, x, fx = w, fw, x, fx, u, fu
        else:
            if u < x:
                low, low_unfilled = u, fu == _UNFILLED
            else:
                high, high_unfilled = u, fu == _UNFILLED
            if fu >= fw or w == x:
                v, fv, w, fw = w, fw, u, fu
            elif fu >= fv or v in (x, w):
                v, fv = u, fu
    return low, high


def _brent_step(
    x: int, fx: int, w: int, fw: int, v: int, fv: int, low: int, high: int, tol: int, step: int, previous: int
) -> tuple[int, int]:
    """Brent's next step from ``x`` and the step before it (his ``d`` and ``e``)."""
    parabola = _parabolic_step(x, fx, w, fw, v, fv) if abs(previous) > tol else None
    if parabola is not None:
        p, q = parabola
        before_last, previous = previous, step
        # Take the vertex only inside the bracket, and only if it moves less than half the step before
        # last: otherwise the parabola is not closing in.
        if 2 * abs(p) < q * abs(before_last) and q * (low - x) < p < q * (high - x):
            step = p // q if p >= 0 else -(-p // q)
            if x + step - low < 2 * tol or high - (x + step) < 2 * tol:
                step = tol if 2 * x < low + high else -tol
            # A step under the tolerance would only measure the quotes' rounding.
            return max(abs(step), tol) * (1 if step >= 0 else -1), previous
    previous = (low - x) if 2 * x >= low + high else (high - x)
    step = abs(previous) * _GOLDEN_NUM // _GOLDEN_DEN
    return max(step, tol) * (1 if previous > 0 else -1), previous


def _search_split(split: _Split, start_x: int | None) -> None:
    """Search the splits ``1 .. amount_in - 1`` for the largest total output; the best is left in ``split``.

    The search starts from ``start_x`` if both venues can fill it, else from the first split they can.
    After it, a 5% allocation inside the final bracket or within ``2 * tol`` of the best split is probed
    too: on a concave output the grid's best allocation is one of the two either side of the maximum, and
    one outside the bracket is below its end, so the search never does worse than the 5% grid.
    """
    amount_in = split.amount_in
    start = (0, start_x, amount_in) if start_x is not None and split.total(start_x) >= 0 else None
    if start is None:
        start = _first_fillable(split)
        if start is None:
            return
    tol, fine = max(1, amount_in // _RESOLUTION), max(1, amount_in // _CLIFF_RESOLUTION)
    low, high = _maximise(split, *start, tol=tol, fine=fine)
    best = split.best_x
    for percent in range(_FIRST_STEP_PCT, 100, _FIRST_STEP_PCT):
        x = amount_in * percent // 100
        if low < x < high or abs(x - best) <= 2 * tol:
            split.total(x)


def _opening(split: _Split, best: str) -> tuple[bool, int]:
    """Whether a split may pay, and if so the split to start searching from.

    By concavity, if the first step taken off the best venue earns less on the other venue than it earned
    on the best one, no larger share can. The step is 5%, as in ``grid_route``, so a small order is
    answered with the same four quotes. When the other venue cannot take even 5%, a step of
    ``amount_in / 1024`` decides instead: such an order may still pay most by filling that venue to its
    depth.
    """
    amount_in, quotes = split.amount_in, split.quotes
    other = split.second if best == split.first else split.first
    step = amount_in * _FIRST_STEP_PCT // 100
    gained = quotes.get(other, step)
    if gained is None:
        step = max(1, amount_in // _RESOLUTION)
        gained = quotes.get(other, step)
        if gained is None:
            return False, 0
    kept = quotes.get(best, amount_in - step)
    if kept is not None and gained <= split.single(best) - kept:
        return False, 0
    return True, amount_in - step if best == split.first else step


def best_route(venues: Mapping[str, QuoteFn], amount_in: int, *, step_pct: int | None = None) -> Route:
    """The route with the largest output for ``amount_in`` across ``venues``.

    Two venues are split by the search. More than two venues, an order under 20 base units or a
    ``step_pct`` mean ``grid_route`` (in 5% steps unless told). Raises ``Unroutable`` when no single venue and
    no split can fill the order.
    """
    _check_order(venues, amount_in)
    if step_pct is not None or len(venues) > 2 or amount_in * _FIRST_STEP_PCT < 100:
        return grid_route(venues, amount_in, step_pct=_FIRST_STEP_PCT if step_pct is None else step_pct)
    names = list(venues)
    quotes = _Quotes(venues)
    singles = _singles(quotes, names, amount_in)
    if len(names) == 1:
        if singles.best is None:
            raise Unroutable("no venue can fill the order")
        return _single_route(singles, amount_in)
    first, second = names
    split = _Split(quotes, first, second, amount_in)
    start_x = None
    if singles.best is not None:
        may_pay, start_x = _opening(split, singles.best.venue)
        if not may_pay:
            return _single_route(singles, amount_in)
    _search_split(split, start_x)
    if singles.best is not None and split.best_out <= singles.best.amount_out:
        return _single_route(singles, amount_in)
    if split.best_out == _UNFILLED:
        raise Unroutable("no venue and no split can fill the order")
    return Route(
        legs=split.legs(),
        amount_in=amount_in,
        amount_out=split.best_out,
        single_quotes=singles.quotes,
        best_single=singles.best,
    )


def best_single_venue(venues: Mapping[str, QuoteFn], amount_in: int) -> Leg:
    """The single venue with the largest output for the whole of ``amount_in``."""
    route = grid_route(venues, amount_in, step_pct=100)
    if route.best_single is None:
        raise Unroutable("no venue can fill the order")
    return route.best_single
