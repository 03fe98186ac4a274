"""The load generator: its own process, driving the api over HTTP and the notifier over WebSockets.

    python -m bench.loadgen orders --api URL --ws URL --count N --sockets S  # POST N, follow on S sockets
    python -m bench.loadgen fanout --api URL --ws URL --count N              # N sockets, one order each

`orders` measures POST→terminal latency and orders/s through the whole pipeline; `fanout` submits N orders,
opens one socket per order, prints READY once every socket holds its order's `pending` event (the
orchestrator then starts the worker, so every later event is live) and measures delivery lag: the event's
timestamp `at` to the moment its frame is read. Either prints one JSON object as its last line. The API
key, if the engine wants one, comes in BENCH_API_KEY. Every wait is bounded by `--timeout`; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvloop
import websockets
from websockets.asyncio.client import ClientConnection, connect

# Two-sided flow, as a market has: sell 1.5 SOL, then buy about as much with 225 USDC. One-sided, 1,000
# orders would push the pool past their 0.5% slippage within seconds, and most would (rightly) fail.
BODIES = (
    b'{"tokenIn":"SOL","tokenOut":"USDC","amountIn":"1.5"}',
    b'{"tokenIn":"USDC","tokenOut":"SOL","amountIn":"225"}',
)
API_KEY = os.environ.get("BENCH_API_KEY")  # the engine's API key, when it has them
TERMINAL = frozenset({"confirmed", "failed"})
SUBSCRIBE_BATCH = 50  # ids per subscribe message: the notifier caps client messages at 4 KiB


class HttpConnection:
    """One keep-alive HTTP/1.1 connection: far less CPU per request than a general client."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body``; one reconnect if the server had closed the idle connection before reading."""
        auth = f"authorization: Bearer {API_KEY}\r\n" if API_KEY else ""
        request = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}\r\ncontent-type: application/json\r\n{auth}"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode() + body
        for attempt in (1, 2):
            if self.reader is None or self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.writer.write(request)
            status_line = await self.reader.readline()
            if status_line:
                break
            await self.close()
            if attempt == 2:
                raise ConnectionResetError("the api closed the connection without answering")
        assert self.reader is not None
        status = int(status_line.split()[1])
        length, close = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        """Close the connection (if open)."""
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def submit(
    api: str, count: int, concurrency: int, accepted: Callable[[str, float], None]
) -> dict[str, int]:
    """POST ``count`` orders over ``concurrency`` connections; ``accepted(order_id, sent_at)`` on each 202."""
    remaining = count
    statuses: Counter[int] = Counter()

    async def client() -> None:
        nonlocal remaining
        conn = HttpConnection(api)
        try:
            while remaining > 0:
                remaining -= 1
                sent_at = time.time()
                status, body = await conn.post("/api/orders/execute", BODIES[remaining % 2])
                statuses[status] += 1
                if status == 202:
                    accepted(orjson.loads(body)["orderId"], sent_at)
        finally:
            await conn.close()

    await asyncio.gather(*(client() for _ in range(min(concurrency, count))))
    return {str(k): v for k, v in sorted(statuses.items())}


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p90, p99 and max, in milliseconds (nearest rank)."""
    if not values:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, max(0, round(p * len(ordered)) - 1))], 2)

    return {"p50_ms": rank(0.50), "p90_ms": rank(0.90), "p99_ms": rank(0.99), "max_ms": rank(1.0)}


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 2)


async def _open(url: str, compression: bool) -> ClientConnection:
    return await connect(
        url,
        additional_headers={"Authorization": f"Bearer {API_KEY}"} if API_KEY else None,
        compression="deflate" if compression else None,
        open_timeout=20,
        max_queue=None,
        close_timeout=2,
    )


@dataclass
class Tracker:
    """What the followers saw: per order, when it was POSTed, the last seq received, when it ended."""

    posted: dict[str, float] = field(default_factory=dict)
    finished: dict[str, tuple[float, str]] = field(default_factory=dict)
    last_seq: dict[str, int] = field(default_factory=dict)
    stream_errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[str] = field(default_factory=Counter)
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    def frame(self, raw: str | bytes, now: float) -> None:
        """Check one frame: seq 1, 2, 3… per order, each once; note the terminal one."""
        frame = orjson.loads(raw)
        order_id, seq = frame.get("orderId"), frame.get("seq")
        if seq is None:
            self.stream_errors[str(frame.get("error", frame.get("status")))] += 1
            return
        previous = self.last_seq.get(order_id, 0)
        if seq <= previous:
            self.stream_errors["duplicate_seq"] += 1
            return
        if seq != previous + 1:
            self.stream_errors["seq_gap"] += 1
        self.last_seq[order_id] = seq
        if frame["status"] in TERMINAL and order_id not in self.finished:
            self.finished[order_id] = (now, frame["status"])
            self.progress.set()


@dataclass
class Follower:
    """One socket following many orders with `subscribe`; reconnects with `afterSeq` if the server closes
    it (1013 when the notifier thinks it reads too slowly, 1001 on shutdown), as a client must."""

    url: str
    compression: bool
    tracker: Tracker
    orders: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    more: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, order_id: str) -> None:
        """Follow ``order_id`` too."""
        self.orders.append(order_id)
        self.pending.append(order_id)
        self.more.set()

    async def run(self) -> None:
        """Follow until cancelled."""
        while True:
            ws = await _open(self.url, self.compression)
            sender: asyncio.Task[None] | None = None
            try:
                await ws.recv()  # ws_connected
                # Resume what an earlier socket left unfinished, each order after the last seq it got.
                resume: dict[int, list[str]] = {}
                for order_id in self.orders:
                    if order_id not in self.tracker.finished:
                        resume.setdefault(self.tracker.last_seq.get(order_id, 0), []).append(order_id)
                self.pending.clear()
                sender = asyncio.create_task(self._send(ws, resume))
                with contextlib.suppress(websockets.ConnectionClosedError):
                    async for raw in ws:
                        self.tracker.frame(raw, time.time())
            finally:
                if sender is not None:
                    sender.cancel()
                    await asyncio.gather(sender, return_exceptions=True)
                await ws.close()
            self.tracker.closes[str(ws.close_code)] += 1

    async def _send(self, ws: ClientConnection, resume: dict[int, list[str]]) -> None:
        for after_seq, order_ids in resume.items():
            for i in range(0, len(order_ids), SUBSCRIBE_BATCH):
                await ws.send(_subscribe(order_ids[i : i + SUBSCRIBE_BATCH], after_seq))
                await asyncio.sleep(0.05)  # a burst of follows is what closed the last socket
        while True:
            await self.more.wait()
            await asyncio.sleep(0.2)  # gather orders into few messages: the notifier allows 10 a second
            self.more.clear()
            while self.pending:
                batch = self.pending[:SUBSCRIBE_BATCH]
                del self.pending[:SUBSCRIBE_BATCH]
                await ws.send(_subscribe(batch, 0))


def _subscribe(order_ids: list[str], after_seq: int) -> str:
    return orjson.dumps({"action": "subscribe", "orderIds": order_ids, "afterSeq": after_seq}).decode()


async def run_orders(args: argparse.Namespace) -> dict[str, Any]:
    """POST ``count`` orders as fast as ``concurrency`` connections allow; follow them on ``sockets``
    sockets (round robin) until every accepted order has ended."""
    tracker = Tracker()
    followers = [Follower(f"{args.ws}/api/orders/ws", args.compression, tracker) for _ in range(args.sockets)]

    def accepted(order_id: str, sent_at: float) -> None:
        tracker.posted[order_id] = sent_at
        followers[len(tracker.posted) % len(followers)].add(order_id)

    tasks = [asyncio.create_task(f.run()) for f in followers]
    started = submitted_at = time.time()
    statuses: dict[str, int] = {}
    timed_out = False
    posted, finished, stream_errors = tracker.posted, tracker.finished, tracker.stream_errors
    try:
        async with asyncio.timeout(args.timeout):
            statuses = await submit(args.api, args.count, args.concurrency, accepted)
            submitted_at = time.time()
            # Every accepted order, not every attempted one: a refused POST has nothing to wait for.
            while len(finished) < len(posted):
                tracker.progress.clear()
                await tracker.progress.wait()
    except TimeoutError:
        timed_out = True
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if len(posted) < args.count:
        stream_errors["not_accepted"] += args.count - len(posted)
    latencies = [finished[o][0] - posted[o] for o in finished if finished[o][1] == "confirmed"]
    last = max((t for t, _ in finished.values()), default=started)
    elapsed = max(last - started, 1e-9)
    outcome = Counter(status for _, status in finished.values())
    return {
        "mode": "orders",
        "count": args.count,
        "concurrency": args.concurrency,
        "http_statuses": statuses,
        "accepted": len(posted),
        "accept_rate_per_s": round(len(posted) / max(submitted_at - started, 1e-9), 1),
        "confirmed": outcome["confirmed"],
        "failed": outcome["failed"],
        "timed_out": timed_out,
        "elapsed_s": round(elapsed, 3),
        "throughput_per_s": round(len(finished) / elapsed, 2),
        "throughput_per_min": round(60 * len(finished) / elapsed, 1),
        "latency": percentiles(latencies),
        "sockets": args.sockets,
        "server_closes": {k: v for k, v in tracker.closes.items() if k != "1000"},
        "stream_errors": dict(stream_errors),
        "loadgen_cpu_s": _own_cpu_s(),
    }


@dataclass
class Fanout:
    """What the fan-out's sockets saw: who holds `pending`, and the lag of every live event after it."""

    expected: int = 0  # sockets that must hold their first event before READY
    ready_count: int = 0
    lags: list[float] = field(default_factory=list)
    lags_by_status: dict[str, list[float]] = field(default_factory=dict)
    closes: Counter[str] = field(default_factory=Counter)
    stream_errors: Counter[str] = field(default_factory=Counter)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    live_first: float = 0.0
    live_last: float = 0.0

    async def follow(self, url: str, compression: bool, connecting: asyncio.Semaphore) -> None:
        """Read one order's socket until it closes."""
        async with connecting:
            ws = await _open(url, compression)
        previous = 0
        try:
            async for raw in ws:
                previous = self.frame(raw, time.time(), previous)
        except websockets.ConnectionClosedError:
            pass
        finally:
            self.closes[str(ws.close_code)] += 1

    def frame(self, raw: str | bytes, now: float, previous: int) -> int:
        """Note one frame of a socket whose last seq was ``previous``; returns the last seq now."""
        frame = orjson.loads(raw)
        seq: int | None = frame.get("seq")
        if seq is None:
            if frame.get("status") != "ws_connected":
                self.stream_errors[str(frame.get("error"))] += 1
            return previous
        if seq != previous + 1:
            self.stream_errors["seq_gap_or_duplicate"] += 1
        if seq == 1:
            self.ready_count += 1
            if self.ready_count == self.expected:
                self.ready.set()
        else:
            lag = now - datetime.fromisoformat(frame["at"]).timestamp()
            self.lags.append(lag)
            self.lags_by_status.setdefault(frame["status"], []).append(lag)
            self.live_first = self.live_first or now
            self.live_last = now
        return max(previous, seq)

    def summary(self, sockets: int, statuses: dict[str, int], timed_out: bool) -> dict[str, Any]:
        """The JSON line the orchestrator reads."""
        live_s = max(self.live_last - self.live_first, 1e-9)
        return {
            "mode": "fanout",
            "sockets": sockets,
            "http_statuses": statuses,
            "ready_sockets": self.ready_count,
            "timed_out": timed_out,
            "live_frames": len(self.lags),
            "live_s": round(live_s, 3),
            "frames_per_s": round(len(self.lags) / live_s, 1),
            "lag": percentiles(self.lags),
            "lag_by_status": {status: percentiles(values) for status, values in self.lags_by_status.items()},
            "close_codes": dict(self.closes),
            "stream_errors": dict(self.stream_errors),
            "loadgen_cpu_s": _own_cpu_s(),
        }


async def run_fanout(args: argparse.Namespace) -> dict[str, Any]:
    """One socket per order; READY once each holds `pending`; then lag of every live event."""
    ids: list[str] = []
    fanout = Fanout()
    connecting = asyncio.Semaphore(args.connect_concurrency)
    started = time.time()
    timed_out = False
    tasks: list[asyncio.Task[None]] = []
    try:
        async with asyncio.timeout(args.timeout):
            statuses = await submit(args.api, args.count, args.concurrency, lambda i, _: ids.append(i))
            fanout.expected = len(ids)
            urls = [f"{args.ws}/api/orders/ws?orderId={i}" for i in ids]
            tasks = [asyncio.create_task(fanout.follow(url, args.compression, connecting)) for url in urls]
            await fanout.ready.wait()
            sys.stdout.write(f"READY {round(time.time() - started, 2)}\n")
            sys.stdout.flush()
            await asyncio.gather(*tasks)
    except TimeoutError:
        timed_out = True
        statuses = {}
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return fanout.summary(len(ids), statuses, timed_out)


def main(argv: list[str] | None = None) -> None:
    """Parse the mode and its bounds, run it, print its JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("mode", choices=("orders", "fanout"))
    parser.add_argument("--api", required=True, help="the api's base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--ws", required=True, help="the notifier's base URL, e.g. ws://127.0.0.1:8001")
    parser.add_argument("--count", type=int, default=1000, help="orders (and, in fanout, sockets)")
    parser.add_argument("--concurrency", type=int, default=32, help="HTTP connections posting orders")
    parser.add_argument("--sockets", type=int, default=1, help="orders: sockets sharing the orders")
    parser.add_argument("--connect-concurrency", type=int, default=100, help="sockets opening at once")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before giving up")
    parser.add_argument("--compression", action="store_true", help="offer permessage-deflate, as browsers do")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    runner: Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]] = (
        run_orders if args.mode == "orders" else run_fanout
    )
    result: dict[str, Any] = uvloop.run(runner(args))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
