"""The simulated chain: deterministic swap signatures and slots, as Solana would give them."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Final

from orders_venues.tokens import b58encode

# Solana's genesis (2020-03-16T14:29:00Z) and its 400 ms slot time give believable slot numbers.
_GENESIS_S: Final = 1_584_368_940
_SLOT_S: Final = 0.4


def swap_signature(order_id: uuid.UUID) -> str:
    """The 64-byte signature of the order's swap: derived from the order, so a resend is the same tx."""
    return b58encode(hashlib.sha512(b"order-engine/swap/" + order_id.bytes).digest())


def current_slot(now: float | None = None) -> int:
    """The slot a transaction landing now would be in."""
    return int(((time.time() if now is None else now) - _GENESIS_S) / _SLOT_S)
