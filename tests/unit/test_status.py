"""The transition table: the only place that says which status may follow which."""

from __future__ import annotations

import itertools

import pytest

from orders_shared.errors import IllegalTransition
from orders_shared.status import TERMINAL, TRANSITIONS, Status, ensure_legal, is_legal

HAPPY_PATH = [Status.PENDING, Status.ROUTING, Status.BUILDING, Status.SUBMITTED, Status.CONFIRMED]


def test_happy_path_is_legal_step_by_step() -> None:
    for current, new in itertools.pairwise(HAPPY_PATH):
        ensure_legal(current, new)


def test_every_non_terminal_status_but_open_can_fail() -> None:
    # A waiting limit order does no work that can fail: it fires, is cancelled or expires.
    for status in Status:
        assert is_legal(status, Status.FAILED) == (status not in TERMINAL | {Status.OPEN})


def test_terminal_statuses_are_final() -> None:
    assert {Status.CONFIRMED, Status.FAILED, Status.CANCELLED, Status.EXPIRED} == TERMINAL
    for status in Status:
        for final in TERMINAL:
            assert not is_legal(final, status)


def test_an_open_order_leaves_only_by_fire_cancel_or_expiry() -> None:
    assert TRANSITIONS[Status.OPEN] == {Status.ROUTING, Status.CANCELLED, Status.EXPIRED}
    # An order comes to wait from pending, or back from submitted when its swap missed the limit price.
    for status in Status:
        assert is_legal(status, Status.OPEN) == (status in {Status.PENDING, Status.SUBMITTED})
    # Only a waiting order can be cancelled or expire.
    for status in Status:
        assert is_legal(status, Status.CANCELLED) == (status is Status.OPEN)
        assert is_legal(status, Status.EXPIRED) == (status is Status.OPEN)


def test_submitted_never_goes_back_to_routing() -> None:
    # A sent swap is looked up, never built again: going back would risk a second trade.
    with pytest.raises(IllegalTransition):
        ensure_legal(Status.SUBMITTED, Status.ROUTING)


def test_nothing_skips_to_confirmed() -> None:
    for status in (Status.PENDING, Status.ROUTING, Status.BUILDING):
        assert not is_legal(status, Status.CONFIRMED)


def test_table_covers_every_status() -> None:
    assert set(TRANSITIONS) == set(Status)


# The lifecycle as DESIGN.md and the README document it, written out edge by edge and independently of the
# table: pending → routing → building → submitted → confirmed; a transient fault before the swap is sent
# goes back to routing; anything not yet terminal can fail; a sent swap is looked up, never built again.
# A limit order: pending → open, then open → routing (fired), cancelled (client) or expired (time); a fired
# one whose swap no longer pays its limit when it lands goes back: submitted → open.
DOCUMENTED = {
    (Status.SUBMITTED, Status.OPEN),
    (Status.PENDING, Status.ROUTING),
    (Status.PENDING, Status.OPEN),
    (Status.OPEN, Status.ROUTING),
    (Status.OPEN, Status.CANCELLED),
    (Status.OPEN, Status.EXPIRED),
    (Status.ROUTING, Status.BUILDING),
    (Status.BUILDING, Status.SUBMITTED),
    (Status.SUBMITTED, Status.CONFIRMED),
    (Status.ROUTING, Status.ROUTING),
    (Status.BUILDING, Status.ROUTING),
    *(
        (status, Status.FAILED)
        for status in (Status.PENDING, Status.ROUTING, Status.BUILDING, Status.SUBMITTED)
    ),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(Status, Status)))
def test_the_table_allows_exactly_the_documented_transitions(current: Status, new: Status) -> None:
    assert is_legal(current, new) == ((current, new) in DOCUMENTED)


def _reachable(start: Status) -> set[Status]:
    seen, todo = {start}, [start]
    while todo:
        for new in TRANSITIONS[todo.pop()]:
            if new not in seen:
                seen.add(new)
                todo.append(new)
    return seen


def test_every_status_is_reachable_and_every_order_can_end() -> None:
    assert _reachable(Status.PENDING) == set(Status)
    for status in Status:
        assert _reachable(status) & TERMINAL, status
