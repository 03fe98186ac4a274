"""Token launches in the api: `POST /api/admin/launches` (admin keys only) and `GET /api/market/launches`.
A launch is announced as `TokenLaunched`, which every replica and worker follows (`follow_launches`).

The launch itself is `orders_shared.launches.launch`, the one function `orders-admin` and the workers'
schedule call too. The lifespan puts a `Launches` in the request state under ``LAUNCHES_KEY``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aio_pika.abc import AbstractExchange
from fastapi import APIRouter, Request, Response
from pydantic import Field, StrictInt, StrictStr
from starlette.exceptions import HTTPException

from orders_api.deps import API_KEYS, app_state
from orders_api.responses import GUARDED, PROBLEM
from orders_api.schemas import CamelModel, DecimalInput
from orders_shared.auth import bearer
from orders_shared.db import Database
from orders_shared.launches import Launch, announce, launch, plan, refresh
from orders_shared.logging import get_logger
from orders_shared.metrics import Metrics
from orders_venues import Catalog

LAUNCHES_KEY = "launches"
log = get_logger()


class LaunchRequest(CamelModel):
    """`POST /api/admin/launches`: a new token and its Raydium CPMM pool, opening at ``at`` (default now)."""

    symbol: StrictStr = Field(max_length=16, description="2 to 10 letters and digits, e.g. PUMP.")
    decimals: StrictInt = Field(ge=0, le=12, description="The token's decimals, e.g. 6.")
    quote: StrictStr = Field(default="SOL", max_length=16, description="The token it trades against.")
    price: DecimalInput = Field(description="Quote per token at the opening, e.g. 0.0001.")
    liquidity: DecimalInput = Field(
        description="Quote-token amount deposited (the same value of the new token on the other side)."
    )
    at: datetime | None = Field(default=None, description="RFC 3339 opening time; default now.")
    mint: StrictStr | None = Field(
        default=None, max_length=64, description="Its mint address (base58); default: a new one."
    )


class LaunchView(CamelModel):
    """A launch as the api shows it."""

    symbol: str
    mint: str
    decimals: int
    pair: str
    opens_at: datetime
    price: str
    liquidity: str
    status: str = Field(description="scheduled until its pool opens, then open")


class LaunchList(CamelModel):
    """`GET /api/market/launches`, by opening."""

    launches: list[LaunchView]


@dataclass(frozen=True, slots=True)
class Launches:
    """Launches tokens and lists them; one per api process."""

    db: Database
    market: AbstractExchange
    metrics: Metrics
    # The tokens and pairs this process knows (the lifespan's one).
    catalog: Catalog

    async def create(self, body: LaunchRequest) -> LaunchView:
        """Launch the token (InvalidOrder naming a field; 409 if its symbol or mint is taken), then announce
        it on `market.events`."""
        planned = plan(
            body.symbol,
            decimals=body.decimals,
            quote=body.quote,
            price=body.price,
            liquidity=body.liquidity,
            at=body.at,
            mint=body.mint,
        )
        async with self.db.connection() as conn:
            created = await launch(conn, self.catalog, planned)
        if not created:
            raise HTTPException(409, f"a token with symbol {planned.token.symbol} or that mint exists")
        await announce(self.market, planned, self.metrics)
        return _view(planned, datetime.now(UTC))

    async def list(self) -> LaunchList:
        """Every launch, by opening (and each learnt by this process)."""
        async with self.db.connection() as conn:
            launches = await refresh(conn, self.catalog)
        now = datetime.now(UTC)
        return LaunchList(launches=[_view(known, now) for known in launches])


def _view(known: Launch, now: datetime) -> LaunchView:
    view: dict[str, Any] = known.view(now)
    return LaunchView.model_validate({**view, "opensAt": known.opens_at})


# A body that is not JSON is a 400 here too.
router = APIRouter(tags=["launches"], dependencies=API_KEYS, responses={400: PROBLEM, **GUARDED})


def _launches(request: Request) -> Launches:
    found = request.scope["state"][LAUNCHES_KEY]
    assert isinstance(found, Launches)
    return found


@router.post(
    "/api/admin/launches",
    status_code=201,
    response_model=LaunchView,
    responses={403: PROBLEM, 409: PROBLEM},
    summary="Launch a token (admin keys only)",
)
async def create_launch(body: LaunchRequest, request: Request, response: Response) -> LaunchView:
    """Create the token and its Raydium CPMM pool opening at ``at``; announced on RabbitMQ."""
    api = app_state(request.scope["state"])
    _, limit_headers = await api.gate.admit(request.headers, api.gate.reads)
    response.headers.update(limit_headers)
    key = bearer(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if not await api.gate.keys.is_admin(key):
        raise HTTPException(403, "launching a token takes an admin key (orders-api-key create NAME --admin)")
    return await _launches(request).create(body)


@router.get(
    "/api/market/launches",
    response_model=LaunchList,
    summary="Token launches, scheduled and open",
)
async def list_launches(request: Request, response: Response) -> LaunchList:
    """Every launch, by opening: its pair, price, liquidity and whether its pool is open yet."""
    api = app_state(request.scope["state"])
    _, limit_headers = await api.gate.admit(request.headers, api.gate.reads)
    response.headers.update(limit_headers)
    return await _launches(request).list()


__all__ = ["LAUNCHES_KEY", "Launches", "router"]
