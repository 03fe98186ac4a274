"""API keys and WebSocket tickets: who is calling.

A key reads `oek_<id>_<secret>`: the id finds the row, the secret is checked against its SHA-256 digest
with a constant-time comparison. Keys are random (192 bits), shown once when created and stored only as
that digest. A ticket is a short-lived, HMAC-signed `client.expiry` that a browser, which cannot set
headers on a WebSocket, puts in the WebSocket URL instead of a key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from cachetools import TTLCache

from orders_shared import repository
from orders_shared.db import Conn, Database

ANONYMOUS = "anonymous"
_PREFIX = "oek"
# How long an answer about a key is remembered, so how long a revoked key may still be accepted.
KEY_CACHE_S = 10.0
# Remembered answers at most: a flood of made-up keys evicts the oldest, never the whole cache at once.
_KEY_CACHE_SIZE = 10_000


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """A fresh key: (key id, the key to show once, the digest to store)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    return key_id, f"{_PREFIX}_{key_id}_{secret}", _digest(secret)


def split_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != _PREFIX or not key_id or not secret or len(key) > 200:
        return None
    return key_id, secret


async def create_key(
    conn: Conn, name: str, client: str | None = None, *, admin: bool = False
) -> tuple[str, str, str]:
    """Store a new key for ``client`` (a new client id when None); returns (key id, client, the key).

    An ``admin`` key is an operator's: it may also launch tokens.
    """
    key_id, key, digest = new_key()
    owner = client or f"client-{secrets.token_hex(8)}"
    await repository.insert_key(conn, key_id, digest, owner, name, admin=admin)
    return key_id, owner, key


@dataclass(slots=True)
class KeyVerifier:
    """Checks keys against Postgres, remembering answers for KEY_CACHE_S (so revocation takes that long)."""

    db: Database
    _answers: TTLCache[str, str | None] = field(
        default_factory=lambda: TTLCache(maxsize=_KEY_CACHE_SIZE, ttl=KEY_CACHE_S)
    )
    # last_used_at is a minute-grained fact: one write a minute per key, not one per request.
    _touched: TTLCache[str, bool] = field(default_factory=lambda: TTLCache(maxsize=_KEY_CACHE_SIZE, ttl=60))

    async def client_for(self, key: str) -> str | None:
        """The client a valid, unrevoked key belongs to; None for anything else."""
        parts = split_key(key)
        if parts is None:
            return None
        if key in self._answers:
            return self._answers[key]
        key_id, secret = parts
        async with self.db.connection() as conn:
            found = await repository.find_key(conn, key_id)
            client = None
            if (
                found is not None
                and not found.revoked
                and hmac.compare_digest(found.secret_sha256, _digest(secret))
            ):
                client = found.client
                if key_id not in self._touched:
                    self._touched[key_id] = True
                    await repository.touch_key(conn, key_id)
        self._answers[key] = client
        return client

    async def is_admin(self, key: str | None) -> bool:
        """Whether ``key`` is a valid, unrevoked admin key; asked of Postgres every time (operators' calls
        are rare, and a revoked admin key must stop at once)."""
        parts = split_key(key) if key else None
        if parts is None:
            return False
        key_id, secret = parts
        async with self.db.connection() as conn:
            found = await repository.find_key(conn, key_id)
        return (
            found is not None
            and found.admin
            and not found.revoked
            and hmac.compare_digest(found.secret_sha256, _digest(secret))
        )


@dataclass(frozen=True, slots=True)
class Tickets:
    """Short-lived WebSocket tickets, signed with a secret the api and the notifier share."""

    secret: bytes
    ttl_s: int = 60

    def issue(self, client: str, now: float | None = None) -> str:
        """A ticket for ``client`` valid for ``ttl_s`` seconds."""
        expiry = int((time.time() if now is None else now) + self.ttl_s)
        payload = base64.urlsafe_b64encode(f"{client}.{expiry}".encode()).decode().rstrip("=")
        return f"{payload}.{self._sign(payload)}"

    def verify(self, ticket: str, now: float | None = None) -> str | None:
        """The client of a valid, unexpired ticket; None otherwise."""
        payload, _, signature = ticket.rpartition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            client, _, expiry = (
                base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().rpartition(".")
            )
            if int(expiry) < (time.time() if now is None else now):
                return None
        except (ValueError, UnicodeDecodeError):
            return None
        return client or None

    def _sign(self, payload: str) -> str:
        digest = hmac.new(self.secret, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def bearer(authorization: str | None, api_key: str | None) -> str | None:
    """The key from `Authorization: Bearer …` or `X-API-Key`."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return api_key.strip() if api_key and api_key.strip() else None
