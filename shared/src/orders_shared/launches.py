"""Token launches: one function launches a token (the admin endpoint, `orders-admin` and the seeded schedule
all call it), and every process learns of launches the same way.

A launch writes, in one statement, the token (`tokens`) and its pools (`pools`, opening at ``opens_at``): a
Raydium CPMM pool holding the liquidity, and a Meteora pair with none yet, as a launchpad's migration
leaves them. After the commit it is announced as a `TokenLaunched` message on `market.events`. A process
learns of a launch from that message, from the pools row it reads, or, on a miss, from `tokens`
(`resolve`); learning makes the token and its pair known to the process's `Catalog` (`learn`).

The schedule (MARKET_LAUNCHES_PER_HOUR) is a pure function of the market seed and the hour, so every
worker computes the same launches and inserts them idempotently: whoever inserts one first announces it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage
from pydantic import ValidationError

from orders_shared.amqp import publish
from orders_shared.contracts import TokenLaunched
from orders_shared.db import Conn
from orders_shared.errors import InvalidOrder
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics
from orders_shared.repository import TokenRecord, find_launch, insert_launch, list_launches
from orders_shared.topology import LAUNCH_KEY
from orders_venues import Catalog, Listing, PairPools, launch_pools
from orders_venues.pools import DEFAULT_USD_PRICES
from orders_venues.tokens import TOKENS, Token, b58encode, derived_mint, is_mint, plain

log = get_logger()

SYMBOL = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
MAX_DECIMALS = 12
MAX_AHEAD = timedelta(days=30)
# A scheduled launch is written (and announced) this long before it opens, so snipers can wait for it.
SCHEDULE_LEAD = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Launch:
    """A launched token, the quote token of its pair, and the terms its pool opens with."""

    token: Token
    quote: Token
    price: Decimal
    liquidity: Decimal
    opens_at: datetime

    @property
    def pair(self) -> str:
        """``TOKEN/QUOTE``."""
        return f"{self.token.symbol}/{self.quote.symbol}"

    def status(self, now: datetime) -> Literal["scheduled", "open"]:
        """`open` once its pool trades."""
        return "open" if self.opens_at <= now else "scheduled"

    def view(self, now: datetime) -> dict[str, Any]:
        """The launch as `GET /api/market/launches` lists it."""
        return {
            "symbol": self.token.symbol,
            "mint": self.token.mint,
            "decimals": self.token.decimals,
            "pair": self.pair,
            "opensAt": self.opens_at.isoformat().replace("+00:00", "Z"),
            "price": str(plain(self.price)),
            "liquidity": str(plain(self.liquidity)),
            "status": self.status(now),
        }

    def listing(self) -> Listing:
        """The pair as `orders_venues` knows it: its opening and its reference price in USD."""
        usd = self.price * DEFAULT_USD_PRICES[self.quote.symbol]
        return Listing(self.token, self.quote, int(self.opens_at.timestamp()), plain(usd))

    def _terms(self) -> dict[str, Any]:
        # The `tokens` row and the `TokenLaunched` message hold the same fields.
        return {
            "symbol": self.token.symbol,
            "mint": self.token.mint,
            "decimals": self.token.decimals,
            "quote": self.quote.symbol,
            "price": self.price,
            "liquidity": self.liquidity,
            "opens_at": self.opens_at,
        }

    def record(self) -> TokenRecord:
        """The `tokens` row."""
        return TokenRecord(**self._terms())

    def message(self) -> TokenLaunched:
        """The `TokenLaunched` announcement."""
        return TokenLaunched(**self._terms())

    @classmethod
    def from_record(cls, row: TokenRecord | TokenLaunched) -> Launch:
        """The launch a `tokens` row or a `TokenLaunched` message describes."""
        return cls(
            token=Token(row.symbol, row.mint, row.decimals),
            quote=TOKENS[row.quote],
            price=Decimal(row.price),
            liquidity=Decimal(row.liquidity),
            opens_at=row.opens_at.astimezone(UTC),
        )


def plan(
    symbol: str,
    *,
    decimals: int,
    quote: str,
    price: Decimal,
    liquidity: Decimal,
    at: datetime | None = None,
    mint: str | None = None,
    now: datetime | None = None,
) -> Launch:
    """A launch checked field by field (InvalidOrder naming the field); ``at`` in the past opens now."""
    now = now or datetime.now(UTC)
    name = symbol.strip().upper()
    if not SYMBOL.match(name) or name == "WSOL":
        raise InvalidOrder("symbol", "2 to 10 letters and digits, starting with a letter")
    if name in TOKENS:
        # A launched token's symbol is refused by the `tokens` row that holds it (the caller's conflict).
        raise InvalidOrder("symbol", f"{name} is a seeded token")
    if not 0 <= decimals <= MAX_DECIMALS:
        raise InvalidOrder("decimals", f"between 0 and {MAX_DECIMALS}")
    quote_token = TOKENS.get(quote.strip().upper())
    if quote_token is None:
        raise InvalidOrder("quote", f"one of {', '.join(TOKENS)}")
    if not price.is_finite() or price <= 0 or len(price.normalize().as_tuple().digits) > 28:
        raise InvalidOrder("price", "a positive decimal of at most 28 significant digits")
    if not liquidity.is_finite() or liquidity <= 0:
        raise InvalidOrder("liquidity", "a positive decimal")
    exponent = liquidity.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > quote_token.decimals:
        raise InvalidOrder("liquidity", f"{quote_token.symbol} has {quote_token.decimals} decimals; got more")
    if at is not None and at.tzinfo is None:
        raise InvalidOrder("at", "must carry a time zone (RFC 3339)")
    # Whole seconds: the pools' opening is a unix second, as the market's clock is.
    opens_at = (now if at is None or at <= now else at).replace(microsecond=0)
    if opens_at > now + MAX_AHEAD:
        raise InvalidOrder("at", f"at most {MAX_AHEAD.days} days ahead")
    if mint is None:
        mint = b58encode(secrets.token_bytes(32))
    elif not is_mint(mint):
        raise InvalidOrder("mint", "a base58 address of 32 bytes")
    elif any(token.mint == mint for token in TOKENS.values()):
        raise InvalidOrder("mint", "the mint of a seeded token")
    launch = Launch(Token(name, mint, decimals), quote_token, plain(price), plain(liquidity), opens_at)
    try:
        pools_of(launch)
    except ValueError as exc:
        raise InvalidOrder("liquidity", str(exc)) from None
    return launch


def pools_of(launch: Launch) -> PairPools:
    """The launch's pools as they open (ValueError when the amounts cannot be pool balances)."""
    return launch_pools(
        launch.token, launch.quote, launch.price, launch.liquidity, now=int(launch.opens_at.timestamp())
    )


def learn(catalog: Catalog, launch: Launch) -> None:
    """Make the launch's token and pair known to ``catalog`` (idempotent)."""
    catalog.learn(launch.listing())


async def launch(conn: Conn, catalog: Catalog, planned: Launch) -> bool:
    """Write the token and its pools in one statement; False (nothing written) if its symbol or mint is
    taken. The caller announces it (`announce`) once committed."""
    created = await insert_launch(conn, planned.record(), planned.listing(), pools_of(planned))
    if created:
        learn(catalog, planned)
    return created


async def announce(market: AbstractExchange, launched: Launch, metrics: Metrics) -> None:
    """Log the committed launch and announce it on `market.events`; a failed publish is counted and
    logged, not raised: Postgres has the launch, and every process finds it there on a miss."""
    log.info("token_launched", symbol=launched.token.symbol, opens_at=launched.opens_at.isoformat())
    try:
        await publish(market, LAUNCH_KEY, launched.message())
    except Exception:
        metrics.publish_failures.labels(kind="launch").inc()
        log.warning("launch_publish_failed", symbol=launched.token.symbol, exc_info=True)


async def refresh(conn: Conn, catalog: Catalog) -> list[Launch]:
    """Every launch in Postgres, each learnt by ``catalog``."""
    launches = [Launch.from_record(row) for row in await list_launches(conn)]
    for known in launches:
        learn(catalog, known)
    return launches


async def resolve(conn: Conn, catalog: Catalog, symbol_or_mint: str) -> Token | None:
    """The token named by a symbol or a mint: known to ``catalog`` already, else read from `tokens` (and
    learnt)."""
    token = catalog.find_token(symbol_or_mint)
    if token is not None:
        return token
    if not (SYMBOL.match(symbol_or_mint.upper()) or is_mint(symbol_or_mint)):
        # Nothing else can name a launched token; and a client's NUL byte must not reach Postgres (500).
        return None
    row = await find_launch(conn, symbol_or_mint)
    if row is None:
        return None
    found = Launch.from_record(row)
    learn(catalog, found)
    return found.token


def _uniform(seed: int, hour: int, index: int, what: str) -> float:
    digest = hashlib.blake2b(f"{seed}/launch/{hour}/{index}/{what}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _symbol(seed: int, hour: int, index: int) -> str:
    digest = hashlib.blake2b(f"{seed}/launch/{hour}/{index}/symbol".encode(), digest_size=8).digest()
    number = int.from_bytes(digest, "big")
    letters = ""
    for _ in range(5):
        number, digit = divmod(number, 26)
        letters += chr(ord("A") + digit)
    return letters


def scheduled(seed: int, per_hour: int, hour: int) -> list[Launch]:
    """The launches of the schedule opening within unix hour ``hour``, in opening order.

    A pure function of (seed, hour): each gets a symbol of five letters, a mint derived from the same
    hash, 6 decimals, a SOL price log-uniform in 1e-6..1e-3 and 50 to 500 SOL of liquidity.
    """
    launches = []
    for index in range(per_hour):
        second = int(_uniform(seed, hour, index, "second") * 3600)
        exponent = -6 + 3 * _uniform(seed, hour, index, "price")
        price = Decimal(10) ** Decimal(str(round(exponent, 6)))
        liquidity = Decimal(50 + int(_uniform(seed, hour, index, "liquidity") * 450))
        token = Token(_symbol(seed, hour, index), derived_mint(f"{seed}/{hour}/{index}"), 6)
        launches.append(
            Launch(
                token=token,
                quote=TOKENS["SOL"],
                price=plain(price.quantize(Decimal("1e-12"))),
                liquidity=liquidity,
                opens_at=datetime.fromtimestamp(hour * 3600 + second, UTC),
            )
        )
    return sorted(launches, key=lambda launch: (launch.opens_at, launch.token.symbol))


def due(seed: int, per_hour: int, now: datetime) -> list[Launch]:
    """The schedule's launches to write by ``now``: those opening within SCHEDULE_LEAD from now, and those
    of the last hour that should already have been (a worker that was down catches up)."""
    if per_hour <= 0:
        return []
    hour = int(now.timestamp()) // 3600
    wanted = []
    for launch in [launch for h in (hour - 1, hour, hour + 1) for launch in scheduled(seed, per_hour, h)]:
        if now - timedelta(hours=1) <= launch.opens_at <= now + SCHEDULE_LEAD:
            wanted.append(launch)
    return wanted


__all__ = [
    "Launch",
    "announce",
    "due",
    "launch",
    "learn",
    "plan",
    "pools_of",
    "refresh",
    "resolve",
    "scheduled",
]


async def follow_launches(
    channel: AbstractChannel, market: AbstractExchange, metrics: Metrics, catalog: Catalog
) -> None:
    """Learn every `TokenLaunched` announced from now on into ``catalog``, on this replica's own queue."""

    async def on_launch(message: AbstractIncomingMessage) -> None:
        try:
            launched = TokenLaunched.model_validate_json(message.body)
            known = Launch.from_record(launched)
        except (ValidationError, KeyError):
            metrics.internal_errors.labels(where="launch_feed").inc()
            log.error("launch_malformed", body=message.body[:200].decode(errors="replace"))
            return
        learn(catalog, known)
        log.info("token_launch_learnt", symbol=known.token.symbol, pair=known.pair)

    # Exclusive and auto-deleted: a replica that missed an announcement reads `tokens` on a miss.
    queue = await channel.declare_queue(
        exclusive=True, auto_delete=True, arguments={"x-queue-type": "classic"}
    )
    await queue.bind(market, LAUNCH_KEY)
    await queue.consume(on_launch, no_ack=True)
