"""The WebSocket protocol: what clients may send, and the frames we send that are not order events."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

# Close codes (RFC 6455 and the IANA registry).
NORMAL = 1000
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013


class Subscribe(BaseModel):
    """`{"action": "subscribe", "orderIds": [...], "afterSeq": n}` follows more orders on one socket."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    action: Literal["subscribe"]
    order_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    after_seq: int = Field(default=0, ge=0)


def parse_client_message(text: str) -> Subscribe:
    """Parse a client's message; raises ValueError with a sentence for the client."""
    try:
        return Subscribe.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        raise ValueError(f"{where}: {first['msg']}") from None


def connected(order_id: uuid.UUID | None) -> dict[str, Any]:
    """The first frame, as the seed sent it."""
    return {"status": "ws_connected", **({"orderId": str(order_id)} if order_id else {})}


def error(message: str, order_id: str | None = None) -> dict[str, Any]:
    """An error frame."""
    return {"status": "error", "error": message, **({"orderId": order_id} if order_id else {})}
