"""The OpenAPI responses every route module documents: an RFC 9457 problem, and the answers every guarded
route may give."""

from __future__ import annotations

from typing import Any, Final

# RFC 9457 problem details, as problems.py writes them.
PROBLEM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
PROBLEM: Final[dict[str, Any]] = {
    "description": "A problem (RFC 9457)",
    "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
}
# Every route answers these when the key is missing or its budget is spent, or Postgres is away.
GUARDED: Final[dict[int | str, dict[str, Any]]] = {401: PROBLEM, 422: PROBLEM, 429: PROBLEM, 503: PROBLEM}
