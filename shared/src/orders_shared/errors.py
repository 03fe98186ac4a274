"""The engine's errors; no HTTP codes here, the api maps them once.

EngineError
├── InvalidOrder            a client's order that cannot be accepted (names the field)
├── OrderNotFound
├── NotCancellable          a cancel of an order that is no longer waiting (names its status)
├── IllegalTransition       a status change the transition table forbids
└── VenueError
    ├── TransientVenueError a venue erred or timed out: worth retrying
    └── SlippageExceeded    the executed output fell below the order's minimum: final
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    code: str = "ENGINE_ERROR"


class InvalidOrder(EngineError):
    """An order a client sent that cannot be accepted."""

    code = "INVALID_ORDER"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class OrderNotFound(EngineError):
    """No order with that id (or not one the caller may see)."""

    code = "ORDER_NOT_FOUND"


class NotCancellable(EngineError):
    """A cancel of an order that has left `open` (fired, expired, or never waited)."""

    code = "NOT_CANCELLABLE"

    def __init__(self, status: str) -> None:
        super().__init__(f"the order is {status}: only an open order can be cancelled")
        self.status = status


class IdempotencyConflict(EngineError):
    """The Idempotency-Key was first used with a different request body."""

    code = "IDEMPOTENCY_CONFLICT"


class Unavailable(EngineError):
    """A dependency is down; the client may try again shortly."""

    code = "UNAVAILABLE"


class IllegalTransition(EngineError):
    """A status change that the transition table forbids."""

    code = "ILLEGAL_TRANSITION"

    def __init__(self, current: str, new: str) -> None:
        super().__init__(f"illegal transition {current} -> {new}")
        self.current = current
        self.new = new


class VenueError(EngineError):
    """A venue could not quote or execute."""

    code = "VENUE_ERROR"
    retryable: bool = False


class TransientVenueError(VenueError):
    """A venue erred or timed out; another attempt may succeed."""

    code = "VENUE_UNAVAILABLE"
    retryable = True


class NoRoute(VenueError):
    """No venue can fill the order at all."""

    code = "NO_ROUTE"


class SlippageExceeded(VenueError):
    """The executed output fell below the order's minimum; never retried."""

    code = "SLIPPAGE_EXCEEDED"
