"""What the client raises.

OrdersError
 ├── ApiError          the api answered 4xx/5xx (an RFC 9457 problem: status, title, detail, errors)
 └── StreamError       the WebSocket said no (an error frame, a refused handshake) or kept failing
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class OrdersError(Exception):
    """Base of everything the client raises."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field the api refused, and why."""

    field: str
    message: str


class ApiError(OrdersError):
    """The api refused a request; the problem document's fields are kept."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[FieldError] | None = None,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.problem: Mapping[str, Any] = problem or {}
        super().__init__(f"{status} {title}: {detail}")

    @classmethod
    def from_response(cls, status: int, body: Any, text: str) -> ApiError:
        """Build from a response body (a problem document, or anything else a proxy may send)."""
        if not isinstance(body, Mapping):
            return cls(status, "HTTP error", text[:500] or f"status {status}")
        errors = [
            FieldError(str(e.get("field", "")), str(e.get("message", "")))
            for e in body.get("errors", [])
            if isinstance(e, Mapping)
        ]
        return cls(
            status,
            str(body.get("title", "HTTP error")),
            str(body.get("detail", text[:500])),
            errors,
            body,
        )


class StreamError(OrdersError):
    """The order's stream could not be followed: refused, unknown order, or the connection kept failing."""

    def __init__(self, message: str, close_code: int | None = None) -> None:
        self.close_code = close_code
        super().__init__(message)
