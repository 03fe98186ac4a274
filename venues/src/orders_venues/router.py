"""The pure router: the best single venue, or the best split across venues in percent steps.

A venue is a quote function ``amount_in -> amount_out`` that raises ``CannotFill`` when it cannot fill an
amount. The router tries every allocation of the order in ``step_pct`` steps (5% steps give 21 allocations
for two venues, 231 for three), the single-venue allocations among them, and keeps the one with the largest
output; a tie goes to fewer legs, so an order is split only when the split pays. Leg amounts sum exactly to
the order: each leg gets its percentage rounded down and the last leg the remainder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from .errors import CannotFill, InvalidAmount, NoRoute

QuoteFn = Callable[[int], int]


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


def _split_may_pay(quotes: _Quotes, names: list[str], best: Leg, amount_in: int, step_pct: int) -> bool:
    """Whether moving the smallest step of the order off the best venue could pay.

    Every venue's output is concave in its input (prices only worsen and fees only grow along a swap), so
    if the first step taken off the best venue earns less elsewhere than it earned there, no larger share
    can either: the full search is needed only when this says so. It saves most of the quotes of an order
    too small to move a pool.
    """
    step = amount_in * step_pct // 100
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


def best_route(venues: Mapping[str, QuoteFn], amount_in: int, *, step_pct: int = 5) -> Route:
    """The route with the largest output for ``amount_in`` across ``venues``.

    Raises ``NoRoute`` when no single venue and no split can fill the order.
    """
    if amount_in <= 0:
        raise InvalidAmount("amount_in must be positive")
    if not venues:
        raise NoRoute("no venues to route to")
    if not 1 <= step_pct <= 100 or 100 % step_pct:
        raise ValueError("step_pct must divide 100")
    names = list(venues)
    quotes = _Quotes(venues)
    single_quotes = {name: quotes.get(name, amount_in) for name in names}
    filled = [(out, name) for name, out in single_quotes.items() if out is not None]
    best_single = None
    if filled:
        # max() keeps the first of equal outputs, so ties go to the venue listed first.
        single_out, name = max(filled, key=lambda pair: pair[0])
        best_single = Leg(name, 100, amount_in, single_out)

    if best_single is not None and not _split_may_pay(quotes, names, best_single, amount_in, step_pct):
        return Route(
            legs=(best_single,),
            amount_in=amount_in,
            amount_out=best_single.amount_out,
            single_quotes=single_quotes,
            best_single=best_single,
        )
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
        raise NoRoute("no venue and no split can fill the order")
    return Route(
        legs=best[2],
        amount_in=amount_in,
        amount_out=best[0],
        single_quotes=single_quotes,
        best_single=best_single,
    )


def best_single_venue(venues: Mapping[str, QuoteFn], amount_in: int) -> Leg:
    """The single venue with the largest output for the whole of ``amount_in``."""
    route = best_route(venues, amount_in, step_pct=100)
    if route.best_single is None:
        raise NoRoute("no venue can fill the order")
    return route.best_single
