"""Checking an order request against what trades now: tokens we know (launched ones included), a pool
open for the pair, amounts the tokens can express, the terms of a limit or a sniper order."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from orders_api.repository import LimitTerms
from orders_api.schemas import OrderRequest
from orders_shared.errors import InvalidOrder
from orders_venues import Catalog, Side, Unroutable, is_mint, orient
from orders_venues.tokens import TOKENS, Token, plain

# SPL token amounts are u64 on chain: nothing larger can ever be traded.
MAX_BASE_UNITS = 2**64 - 1
# How long a limit order waits for its price: by default, and at most.
DEFAULT_EXPIRY = timedelta(hours=24)
MAX_EXPIRY = timedelta(days=30)
MAX_LIMIT_PRICE = Decimal(10) ** 18


@dataclass(frozen=True, slots=True)
class ValidOrder:
    """An order request that passed every check."""

    token_in: Token
    token_out: Token
    amount_in: Decimal
    slippage_bps: int
    side: Side
    # What a limit order waits for; None for a market order.
    limit: LimitTerms | None = None


# Unknown fields are ignored and named back, as the seed's clients need; they still may not be hostile.
MAX_IGNORED_DEPTH = 4
MAX_IGNORED_STRING = 256
MAX_IGNORED_FIELDS = 20


def _check_ignored(name: str, value: object, depth: int = 1) -> None:
    if len(name) > 64:
        raise InvalidOrder(name[:64], "field names are at most 64 characters")
    if depth > MAX_IGNORED_DEPTH:
        raise InvalidOrder(name, f"nested deeper than {MAX_IGNORED_DEPTH} levels")
    if isinstance(value, str) and len(value) > MAX_IGNORED_STRING:
        raise InvalidOrder(name, f"strings are at most {MAX_IGNORED_STRING} characters")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _check_ignored(name, child, depth + 1)


def _check_extra(request: OrderRequest) -> None:
    extra = request.model_extra or {}
    if len(extra) > MAX_IGNORED_FIELDS:
        raise InvalidOrder("body", f"at most {MAX_IGNORED_FIELDS} unknown fields")
    for name, value in extra.items():
        _check_ignored(name, value)


def _known(symbol_or_mint: str, name: str, catalog: Catalog) -> Token:
    token = catalog.find_token(symbol_or_mint)
    if token is None:
        raise InvalidOrder(name, f"unknown token {symbol_or_mint!r}; use a symbol or a mint address")
    return token


def _amount(request: OrderRequest, token_in: Token) -> Decimal:
    amount = request.amount_in
    if amount <= 0:
        raise InvalidOrder("amountIn", "must be greater than zero")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > token_in.decimals:
        raise InvalidOrder("amountIn", f"{token_in.symbol} has {token_in.decimals} decimals; got more")
    if token_in.to_base_units(amount) > MAX_BASE_UNITS:
        raise InvalidOrder("amountIn", f"too large: at most {token_in.from_base_units(MAX_BASE_UNITS)}")
    return plain(amount)


def opens_at(pair: str, catalog: Catalog) -> int | None:
    """When a launched pair's pools open (unix s); None for a seeded pair (always open)."""
    launched = catalog.listing(pair)
    return None if launched is None else launched.opens_at


def _trading_pairs(now: float, catalog: Catalog) -> list[str]:
    return [pair for pair in catalog.pairs() if (opens_at(pair, catalog) or 0) <= now]


def validate(request: OrderRequest, default_slippage_bps: int, catalog: Catalog) -> ValidOrder:
    """Check what pydantic cannot: tokens ``catalog`` knows, a pool open now, amounts the tokens can
    express."""
    _check_extra(request)
    if request.type == "sniper":
        raise InvalidOrder("type", "a sniper order is checked by validate_sniper")
    token_in = _known(request.token_in, "tokenIn", catalog)
    token_out = _known(request.token_out, "tokenOut", catalog)
    if token_in == token_out:
        raise InvalidOrder("tokenOut", "must differ from tokenIn")
    now = time.time()
    try:
        side = orient(token_in.symbol, token_out.symbol, catalog)
    except Unroutable:
        raise InvalidOrder(
            "tokenOut",
            f"no pool trades {token_in.symbol} for {token_out.symbol}; "
            f"pairs: {', '.join(_trading_pairs(now, catalog))}",
        ) from None
    opening = opens_at(side.pair, catalog)
    if opening is not None and opening > now:
        at = datetime.fromtimestamp(opening, UTC).isoformat().replace("+00:00", "Z")
        raise InvalidOrder("tokenOut", f"the {side.pair} pool opens at {at}; a sniper order can wait for it")
    amount = _amount(request, token_in)
    if request.max_price is not None:
        raise InvalidOrder("maxPrice", "only a sniper order has a maxPrice")
    slippage = request.slippage_bps if request.slippage_bps is not None else default_slippage_bps
    if request.type == "limit":
        return ValidOrder(token_in, token_out, amount, slippage, side, _limit_terms(request))
    if request.limit_price is not None:
        raise InvalidOrder("limitPrice", "only a limit order has a limit price")
    if request.expires_at is not None:
        raise InvalidOrder("expiresAt", "only a limit or sniper order expires")
    return ValidOrder(token_in, token_out, amount, slippage, side)


@dataclass(frozen=True, slots=True)
class ValidSniper:
    """A sniper order that passed every check; ``token_out`` is a symbol, or a mint not launched yet."""

    token_in: Token
    token_out: str
    amount_in: Decimal
    slippage_bps: int
    max_price: Decimal | None
    expires_at: datetime


def validate_sniper(request: OrderRequest, default_slippage_bps: int, catalog: Catalog) -> ValidSniper:
    """A sniper order waits for a pool that does not trade yet: a token announced for launch (its symbol or
    mint), or any mint address; a pair whose pool trades now is refused, naming tokenOut."""
    _check_extra(request)
    token_in = _known(request.token_in, "tokenIn", catalog)
    token_out = catalog.find_token(request.token_out)
    if token_out is None and not is_mint(request.token_out):
        raise InvalidOrder(
            "tokenOut", f"unknown token {request.token_out!r}; use a symbol or a token's mint address"
        )
    if token_out is not None:
        if token_out == token_in:
            raise InvalidOrder("tokenOut", "must differ from tokenIn")
        try:
            side = orient(token_in.symbol, token_out.symbol, catalog)
        except Unroutable:
            # A launched token trades against its launch's quote token only; a seeded one is no launch.
            launched = token_out.symbol not in TOKENS
            raise InvalidOrder(
                "tokenIn" if launched else "tokenOut",
                f"no launch of {token_out.symbol} trades it for {token_in.symbol}",
            ) from None
        opening = opens_at(side.pair, catalog)
        if opening is None or opening <= time.time():
            raise InvalidOrder(
                "tokenOut",
                f"a pool already trades {token_in.symbol} for {token_out.symbol}: "
                "send a market or limit order",
            )
    if request.limit_price is not None:
        raise InvalidOrder("limitPrice", "only a limit order has a limit price")
    max_price = request.max_price
    if max_price is not None:
        if max_price <= 0:
            raise InvalidOrder("maxPrice", "must be greater than zero")
        if max_price > MAX_LIMIT_PRICE or len(max_price.normalize().as_tuple().digits) > 28:
            raise InvalidOrder("maxPrice", f"at most {MAX_LIMIT_PRICE}, with at most 28 significant digits")
        max_price = plain(max_price)
    slippage = request.slippage_bps if request.slippage_bps is not None else default_slippage_bps
    return ValidSniper(
        token_in=token_in,
        token_out=token_out.symbol if token_out is not None else request.token_out,
        amount_in=_amount(request, token_in),
        slippage_bps=slippage,
        max_price=max_price,
        expires_at=_expiry(request),
    )


def _limit_terms(request: OrderRequest) -> LimitTerms:
    """A limit order's price (positive) and expiry (in the future, at most MAX_EXPIRY ahead)."""
    price = request.limit_price
    if price is None:
        raise InvalidOrder("limitPrice", "a limit order needs a limit price (tokenOut per tokenIn)")
    if price <= 0:
        raise InvalidOrder("limitPrice", "must be greater than zero")
    if price > MAX_LIMIT_PRICE:
        raise InvalidOrder("limitPrice", f"at most {MAX_LIMIT_PRICE}")
    if len(price.normalize().as_tuple().digits) > 28:
        raise InvalidOrder("limitPrice", "at most 28 significant digits")
    return LimitTerms(plain(price), _expiry(request))


def _expiry(request: OrderRequest) -> datetime:
    """A waiting order's expiry: in the future, at most MAX_EXPIRY ahead; DEFAULT_EXPIRY from now if unset."""
    now = datetime.now(UTC)
    expires_at = request.expires_at if request.expires_at is not None else now + DEFAULT_EXPIRY
    if expires_at.tzinfo is None:
        raise InvalidOrder("expiresAt", "must carry a time zone (RFC 3339)")
    if expires_at <= now:
        raise InvalidOrder("expiresAt", "must be in the future")
    if expires_at > now + MAX_EXPIRY:
        raise InvalidOrder("expiresAt", f"at most {MAX_EXPIRY.days} days ahead")
    return expires_at
