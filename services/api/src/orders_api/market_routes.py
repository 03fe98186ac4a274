"""The market routes: both venues' prices per pair over the last minutes, from the api's own sampler."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from orders_api.deps import API_KEYS, ReaderDep
from orders_api.market_prices import HISTORY_S, MarketPrices, UnknownPair
from orders_api.responses import GUARDED, PROBLEM
from orders_api.schemas import PriceHistoryView, PricePointView

# The key under which the lifespan hands the MarketPrices to every request.
MARKET_KEY = "market"

router = APIRouter(prefix="/api/market", tags=["market"], responses=GUARDED, dependencies=API_KEYS)


def market_prices(request: Request) -> MarketPrices:
    """The process's MarketPrices, from the lifespan's state."""
    state: Mapping[str, Any] = request.scope["state"]
    found = state[MARKET_KEY]
    assert isinstance(found, MarketPrices)
    return found


MarketPricesDep = Annotated[MarketPrices, Depends(market_prices)]


@router.get(
    "/{pair}/prices",
    response_model=PriceHistoryView,
    responses={404: PROBLEM},
    summary="Both venues' prices over the last minutes",
)
async def prices(
    _caller: ReaderDep,
    market: MarketPricesDep,
    pair: Annotated[
        str,
        Path(pattern=r"^[A-Za-z0-9]{1,32}-[A-Za-z0-9]{1,32}$", description="BASE-QUOTE, e.g. SOL-USDC."),
    ],
    seconds: Annotated[int, Query(ge=1, le=HISTORY_S, description="How far back, in seconds.")] = 300,
) -> PriceHistoryView:
    """Each venue's spot price (quote per base) once a second, oldest first, as this api process sampled
    them: a fresh api has only the points since it started."""
    base, _, quote = pair.upper().partition("-")
    try:
        points = await market.window(f"{base}/{quote}", seconds)
    except UnknownPair as exc:
        raise HTTPException(404, str(exc)) from None
    return PriceHistoryView(
        pair=f"{base}/{quote}",
        base=base,
        quote=quote,
        points=[PricePointView(t=p.t, raydium=p.raydium, meteora=p.meteora) for p in points],
    )
