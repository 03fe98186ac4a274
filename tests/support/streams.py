"""Reading an order's WebSocket stream in tests: await frames with a deadline, never sleep."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


async def read_until_closed(ws: ClientConnection, within: float = 30) -> list[dict[str, Any]]:
    """Every frame until the server closes the socket."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        try:
            async for raw in ws:
                frames.append(json.loads(raw))
        except websockets.ConnectionClosedError:
            pass
    return frames


async def follow(
    ws_base: str, order_id: str, after_seq: int | None = None, within: float = 30
) -> tuple[list[dict[str, Any]], int | None]:
    """Follow one order to its end; returns the frames and the close code."""
    query = f"orderId={order_id}" + (f"&afterSeq={after_seq}" if after_seq is not None else "")
    async with websockets.connect(f"{ws_base}/api/orders/ws?{query}") as ws:
        frames = await read_until_closed(ws, within)
    return frames, ws.close_code


async def next_frame(ws: ClientConnection, within: float = 10) -> dict[str, Any]:
    """The next frame, within ``within`` seconds."""
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), within))
    return frame
