"""The errors the venue models raise.

One tree, so that callers can tell a venue that cannot fill an amount (skip it, try another venue or
split) from a caller or pool bug (stop)::

    VenueMathError
     ├── InvalidAmount             an amount that is not a positive integer: a caller bug
     ├── InvalidPool               a pool state that breaks the model's invariants
     ├── CannotFill                this venue cannot fill this amount: the route search skips it
     │    ├── InsufficientLiquidity   not enough liquidity on the output side
     │    ├── AmountTooSmall          the net input or the output rounds to zero; the chain refuses it
     │    └── AmountTooLarge          an amount beyond a u64, which no token account can hold
     └── Unroutable                   no venue and no split can fill the order
"""

from __future__ import annotations


class VenueMathError(Exception):
    """Base class of every error the venue models raise."""


class InvalidAmount(VenueMathError, ValueError):
    """An amount that is not a positive integer."""


class InvalidPool(VenueMathError, ValueError):
    """A pool state that breaks the model's invariants (negative amounts, rates out of range)."""


class CannotFill(VenueMathError):
    """The venue cannot fill this amount; the route search skips it rather than fail the order."""


class InsufficientLiquidity(CannotFill):
    """The pool does not hold enough of the output token."""


class AmountTooSmall(CannotFill):
    """The net input or the output rounds to zero."""


class AmountTooLarge(CannotFill):
    """An input or output beyond a u64."""


class Unroutable(VenueMathError):
    """No venue and no split across venues can fill the order."""
