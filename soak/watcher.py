"""The soak's WebSocket client: follows every order on a handful of sockets and records each frame."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import defaultdict
from typing import Any

import websockets

from orders_shared.status import TERMINAL

FINAL = frozenset(s.value for s in TERMINAL)


class Watcher:
    """Follows orders on a handful of sockets and records every frame received."""

    def __init__(self, ws_base: str, sockets: int) -> None:
        self.ws_base = ws_base
        self.sockets = sockets
        self.frames: dict[uuid.UUID, list[int]] = defaultdict(list)
        self.done: set[uuid.UUID] = set()
        self.followed: set[uuid.UUID] = set()
        self.all_done = asyncio.Event()
        self.connections: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self._next = 0
        self._expecting = False

    async def start(self) -> None:
        """Open the sockets; each sends `ws_connected` first."""
        for _ in range(self.sockets):
            ws = await websockets.connect(f"{self.ws_base}/api/orders/ws", max_queue=None)
            json.loads(await ws.recv())
            self.connections.append(ws)
            self.readers.append(asyncio.create_task(self._read(ws)))

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if "seq" not in frame:
                raise RuntimeError(f"unexpected frame {frame}")
            order_id = uuid.UUID(frame["orderId"])
            self.frames[order_id].append(frame["seq"])
            if frame["status"] in FINAL:
                self.done.add(order_id)
                self._check_done()

    def _check_done(self) -> None:
        if self._expecting and self.done >= self.followed:
            self.all_done.set()

    async def follow(self, order_ids: list[uuid.UUID]) -> None:
        """Subscribe to ``order_ids`` on the next socket (round robin)."""
        self.followed.update(order_ids)
        ws = self.connections[self._next % len(self.connections)]
        self._next += 1
        await ws.send(json.dumps({"action": "subscribe", "orderIds": [str(i) for i in order_ids]}))

    async def until_all_final(self, within_s: float) -> None:
        """Return once every order followed so far has sent a final status (TimeoutError after
        ``within_s``)."""
        self._expecting = True
        self._check_done()
        async with asyncio.timeout(within_s):
            await self.all_done.wait()

    async def close(self) -> None:
        """Stop reading and close the sockets."""
        for task in self.readers:
            task.cancel()
        for ws in self.connections:
            await ws.close()
