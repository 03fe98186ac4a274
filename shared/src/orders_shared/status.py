"""Order statuses and the one table of legal transitions."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from orders_shared.errors import IllegalTransition


class Status(StrEnum):
    """The life of an order."""

    PENDING = "pending"
    OPEN = "open"
    ROUTING = "routing"
    BUILDING = "building"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


# A retry after a transient fault goes back to ROUTING; in SUBMITTED it stays put and looks the swap up.
# A limit order waits in OPEN: its trigger fires it (OPEN -> ROUTING), its client cancels it, or it expires;
# each of the three is a compare-and-set from OPEN, so exactly one of them wins. A fired limit order whose
# swap no longer pays its minimum when it lands goes back to OPEN (SUBMITTED -> OPEN) and waits again.
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    Status.PENDING: frozenset({Status.OPEN, Status.ROUTING, Status.FAILED}),
    Status.OPEN: frozenset({Status.ROUTING, Status.CANCELLED, Status.EXPIRED}),
    Status.ROUTING: frozenset({Status.ROUTING, Status.BUILDING, Status.FAILED}),
    Status.BUILDING: frozenset({Status.ROUTING, Status.SUBMITTED, Status.FAILED}),
    Status.SUBMITTED: frozenset({Status.CONFIRMED, Status.FAILED, Status.OPEN}),
    Status.CONFIRMED: frozenset(),
    Status.FAILED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.EXPIRED: frozenset(),
}

TERMINAL: Final[frozenset[Status]] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


def is_legal(current: Status, new: Status) -> bool:
    """Whether the table allows ``current -> new``."""
    return new in TRANSITIONS[current]


def ensure_legal(current: Status, new: Status) -> None:
    """Raise IllegalTransition unless the table allows ``current -> new``."""
    if not is_legal(current, new):
        raise IllegalTransition(current.value, new.value)
