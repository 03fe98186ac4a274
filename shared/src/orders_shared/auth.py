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

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orders_shared.models import metadata

ANONYMOUS = "anonymous"
_PREFIX = "oek"

api_keys_table = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.Text, primary_key=True),
    sa.Column("secret_sha256", sa.Text, nullable=False),
    sa.Column("client", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
)


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


async def create_key(conn: AsyncConnection, name: str, client: str | None = None) -> tuple[str, str, str]:
    """Store a new key for ``client`` (a new client id when None); returns (key id, client, the key)."""
    key_id, key, digest = new_key()
    owner = client or f"client-{secrets.token_hex(8)}"
    await conn.execute(
        sa.insert(api_keys_table).values(key_id=key_id, secret_sha256=digest, client=owner, name=name)
    )
    return key_id, owner, key


async def revoke_key(conn: AsyncConnection, key_id: str) -> bool:
    """Revoke a key; False if there is no such key."""
    result = await conn.execute(
        sa.update(api_keys_table).where(api_keys_table.c.key_id == key_id).values(revoked=True)
    )
    return result.rowcount == 1


@dataclass(slots=True)
class KeyVerifier:
    """Checks keys against Postgres, remembering answers for ``cache_s`` (so revocation takes that long)."""

    engine: AsyncEngine
    cache_s: float = 10.0
    _cache: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    _touched: dict[str, float] = field(default_factory=dict)

    async def client_for(self, key: str) -> str | None:
        """The client a valid, unrevoked key belongs to; None for anything else."""
        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        api_keys_table.c.secret_sha256, api_keys_table.c.client, api_keys_table.c.revoked
                    ).where(api_keys_table.c.key_id == key_id)
                )
            ).first()
            client = None
            if (
                row is not None
                and not row.revoked
                and hmac.compare_digest(row.secret_sha256, _digest(secret))
            ):
                client = row.client
                # last_used_at is a minute-grained fact: one write a minute per key, not one per request.
                if self._touched.get(key_id, 0.0) < now - 60:
                    self._touched[key_id] = now
                    await conn.execute(
                        sa.update(api_keys_table)
                        .where(api_keys_table.c.key_id == key_id)
                        .values(last_used_at=sa.func.now())
                    )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now + self.cache_s, client)
        return client


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
