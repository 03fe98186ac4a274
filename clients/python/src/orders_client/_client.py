"""OrdersClient: the REST api over httpx and an order's event stream over websockets, both async."""

from __future__ import annotations

import asyncio
import builtins
import json
import os
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any
from urllib.parse import quote as urlquote
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from orders_client._errors import ApiError, StreamError
from orders_client._expiry import rfc3339
from orders_client._models import Accepted, Order, OrderEvent, OrderPage, QuoteResult

DEFAULT_API_URL = "http://127.0.0.1:8000"
NOTIFIER_PORT = 8001
NORMAL_CLOSURE = 1000
# Handshake answers that another try will not change.
_FINAL_HANDSHAKE_STATUSES = frozenset({400, 401, 403, 404})

Amount = Decimal | str | int


def default_ws_url(api_url: str) -> str:
    """The notifier beside an api: same host, ws(s), port 8001 (pass the URL when a gateway fronts both)."""
    parts = urlsplit(api_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.hostname or '127.0.0.1'}:{NOTIFIER_PORT}"


class OrdersClient:
    """A client of the order engine.

    ``api_key`` (default: ``$ORDERS_API_KEY``) travels as ``Authorization: Bearer <key>`` on every request
    and on the WebSocket handshake. Use it as ``async with OrdersClient(...) as client:``.
    """

    def __init__(
        self,
        api_url: str | None = None,
        ws_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.api_url = (api_url or os.environ.get("ORDERS_API_URL") or DEFAULT_API_URL).rstrip("/")
        self.ws_url = (ws_url or os.environ.get("ORDERS_WS_URL") or default_ws_url(self.api_url)).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("ORDERS_API_KEY")
        self._auth: dict[str, str] = {"Authorization": f"Bearer {key}"} if key else {}
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.api_url,
            headers={**self._auth, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> OrdersClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, Any]:
        response = await self._http.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error:
            raise ApiError.from_response(response.status_code, body, response.text)
        return response, body

    async def _place(self, body: dict[str, Any], idempotency_key: str | None) -> Accepted:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        response, data = await self._call("POST", "/api/orders/execute", json=body, headers=headers)
        return Accepted.from_json(data, replayed=response.status_code == 200)

    async def submit(
        self,
        token_in: str,
        token_out: str,
        amount_in: Amount,
        *,
        slippage_bps: int | None = None,
        idempotency_key: str | None = None,
    ) -> Accepted:
        """Submit a market order; with ``idempotency_key`` a repeat returns the first order (``replayed``)."""
        body = _order_body("market", token_in, token_out, amount_in)
        if slippage_bps is not None:
            body["slippageBps"] = slippage_bps
        return await self._place(body, idempotency_key)

    async def limit(
        self,
        token_in: str,
        token_out: str,
        amount_in: Amount,
        *,
        price: Amount,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Accepted:
        """Place a limit order: it waits `open` until the best route pays at least ``amount_in * price``
        (``price``: tokenOut per tokenIn, fees included), then runs; it expires at ``expires_at`` (an aware
        datetime; the engine's default is 24 h)."""
        body = _order_body("limit", token_in, token_out, amount_in)
        body["limitPrice"] = str(price)
        if expires_at is not None:
            body["expiresAt"] = rfc3339(expires_at)
        return await self._place(body, idempotency_key)

    async def snipe(
        self,
        token_in: str,
        token_out: str,
        amount_in: Amount,
        *,
        slippage_bps: int,
        max_price: Amount | None = None,
        expires_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Accepted:
        """Place a sniper order for a token no pool trades yet (a symbol or a mint): it waits `open` and fires
        in the first turn after its pool opens. ``max_price``: the worst average price paid, tokenIn per
        tokenOut; missing it or ``slippage_bps`` at launch fails the order (SLIPPAGE_EXCEEDED)."""
        body = _order_body("sniper", token_in, token_out, amount_in)
        body["slippageBps"] = slippage_bps
        if max_price is not None:
            body["maxPrice"] = str(max_price)
        if expires_at is not None:
            body["expiresAt"] = rfc3339(expires_at)
        return await self._place(body, idempotency_key)

    async def cancel(self, order_id: str) -> Order:
        """Cancel a waiting (`open`) order; returns it `cancelled`, again on a repeat. An order that has left
        `open` (fired, expired, a market order) raises ApiError 409 naming its status."""
        _, data = await self._call("DELETE", f"/api/orders/{urlquote(order_id, safe='')}")
        return Order.from_json(data)

    async def get(self, order_id: str) -> Order:
        """One order with every event so far."""
        _, data = await self._call("GET", f"/api/orders/{urlquote(order_id, safe='')}")
        return Order.from_json(data)

    async def list(
        self,
        *,
        type: str | None = None,  # the api's query parameter, keyword-only
        status: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> OrderPage:
        """One page of this client's orders, newest first; ``type`` (market, limit, sniper) and ``status``
        filter it."""
        params = {"type": type, "status": status, "limit": limit, "cursor": cursor}
        _, data = await self._call(
            "GET", "/api/orders", params={k: v for k, v in params.items() if v is not None}
        )
        return OrderPage.from_json(data)

    async def quote(
        self, token_in: str, token_out: str, amount_in: Amount, *, slippage_bps: int | None = None
    ) -> QuoteResult:
        """Both venues' quotes and the route an order would take now, without ordering."""
        params: dict[str, str | int] = {
            "tokenIn": token_in,
            "tokenOut": token_out,
            "amountIn": str(amount_in),
        }
        if slippage_bps is not None:
            params["slippageBps"] = slippage_bps
        _, data = await self._call("GET", "/api/quote", params=params)
        return QuoteResult.from_json(data)

    async def follow(
        self, order_id: str, *, after_seq: int = 0, retries: int = 5, backoff_s: float = 0.2
    ) -> AsyncIterator[OrderEvent]:
        """Every event of the order after ``after_seq``, each once and in order, until it ends.

        A dropped connection (or a notifier going away, 1001) is reopened with ``afterSeq`` set to the last
        event received, so nothing is lost or repeated; after ``retries`` failed tries in a row without a
        new event, StreamError. A normal close (1000) means the order has ended: the iteration stops.
        """
        last = after_seq
        failures = 0
        while True:
            query = f"orderId={urlquote(order_id, safe='')}" + (f"&afterSeq={last}" if last else "")
            try:
                async with connect(
                    f"{self.ws_url}/api/orders/ws?{query}",
                    additional_headers=self._auth,
                    open_timeout=self._timeout,
                ) as ws:
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame.get("status") == "ws_connected":
                            continue
                        if frame.get("status") == "error":
                            raise StreamError(str(frame.get("error", "refused")))
                        event = OrderEvent.from_json(frame)
                        if event.seq <= last:
                            continue
                        last, failures = event.seq, 0
                        yield event
                        if event.terminal:
                            return
                if ws.close_code == NORMAL_CLOSURE:
                    return  # the notifier closes normally only once the order has ended (after_seq past it)
                problem = f"closed {ws.close_code} before the order ended"
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in _FINAL_HANDSHAKE_STATUSES:
                    raise StreamError(f"WebSocket handshake refused with HTTP {status}") from exc
                problem = f"handshake answered HTTP {status}"
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            failures += 1
            if failures > retries:
                raise StreamError(f"gave up following {order_id} after {retries} retries: {problem}")
            await asyncio.sleep(min(backoff_s * 2 ** (failures - 1), 5.0))

    async def wait(self, order_id: str, *, after_seq: int = 0) -> builtins.list[OrderEvent]:
        """Follow the order to its end (confirmed, failed, cancelled or expired) and return the events
        received. A waiting order (`open`) has not ended: for a limit order this may take until it expires."""
        return [event async for event in self.follow(order_id, after_seq=after_seq)]


def _order_body(kind: str, token_in: str, token_out: str, amount_in: Amount) -> dict[str, Any]:
    return {"tokenIn": token_in, "tokenOut": token_out, "amountIn": str(amount_in), "type": kind}
