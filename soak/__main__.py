"""Soak: 10,000 orders, venue latencies 0, 5% venue failures, two workers, one killed midway.

Every order is followed over WebSockets from the moment it is accepted. At the end the run reconciles
what clients received against Postgres and prints: orders per final status, orders with a seq gap,
executions per order > 1, events received vs stored, duplicate frames. Exit 1 unless all are exact.
Loopback only; bounded by ORDERS and DEADLINE_S.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import websockets

from orders_shared.models import events_table, orders_table
from tests.support.infra import reader_engine, throwaway_database, throwaway_vhost
from tests.support.reconcile import Reconciliation, reconcile
from tests.support.services import Service, Stack, start_service, started_stack, until_ready

TERMINAL = {"confirmed", "failed"}
CHUNK = 100


class Watcher:
    """Follows orders on a handful of sockets and records every frame received."""

    def __init__(self, ws_base: str, sockets: int) -> None:
        self.ws_base = ws_base
        self.sockets = sockets
        self.frames: dict[uuid.UUID, list[int]] = defaultdict(list)
        self.done: set[uuid.UUID] = set()
        self.expected: int | None = None
        self.all_done = asyncio.Event()
        self.connections: list[Any] = []
        self.readers: list[asyncio.Task[None]] = []
        self._next = 0

    async def start(self) -> None:
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
            if frame["status"] in TERMINAL:
                self.done.add(order_id)
                self.check_done()

    def check_done(self) -> None:
        """Wake the waiter once every expected order has ended."""
        if self.expected is not None and len(self.done) >= self.expected:
            self.all_done.set()

    async def follow(self, order_ids: list[uuid.UUID]) -> None:
        ws = self.connections[self._next % len(self.connections)]
        self._next += 1
        await ws.send(json.dumps({"action": "subscribe", "orderIds": [str(i) for i in order_ids]}))

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        for ws in self.connections:
            await ws.close()


async def _submit(client: httpx.AsyncClient, body: dict[str, str]) -> uuid.UUID:
    # A client's retry after a dropped connection carries the same Idempotency-Key: never a second order.
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    for attempt in range(5):
        try:
            response = await client.post("/api/orders/execute", json=body, headers=headers)
        except httpx.TransportError:
            if attempt == 4:
                raise
            continue
        if response.status_code not in (200, 202):
            raise RuntimeError(f"order refused: {response.status_code} {response.text}")
        return uuid.UUID(response.json()["orderId"])
    raise AssertionError("unreachable")


async def submit_all(
    stack: Stack, watcher: Watcher, orders: int, concurrency: int, on_half: Any
) -> list[uuid.UUID]:
    """POST ``orders`` orders, ``concurrency`` at a time, following each chunk as it is accepted."""
    ids: list[uuid.UUID] = []
    pairs = [("SOL", "USDC", "0.5"), ("USDC", "SOL", "75"), ("SOL", "USDT", "1.25"), ("USDT", "USDC", "100")]
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=stack.api, timeout=30, limits=limits) as client:
        for start in range(0, orders, CHUNK):
            bodies = [
                {"tokenIn": a, "tokenOut": b, "amountIn": amount}
                for a, b, amount in (pairs[n % len(pairs)] for n in range(start, min(start + CHUNK, orders)))
            ]
            chunk = list(await asyncio.gather(*(_submit(client, body) for body in bodies)))
            ids.extend(chunk)
            await watcher.follow(chunk)
            if start < orders // 2 <= start + CHUNK:
                on_half()
    return ids


def _settings(database_url: str, amqp_url: str) -> dict[str, str]:
    """The services' environment: venues fast but failing 5% of the time, the API open and unlimited."""
    return {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "LOG_LEVEL": "warning",
        "VENUE_QUOTE_LATENCY_MS": "0",
        "VENUE_EXECUTE_LATENCY_MS": "0",
        "VENUE_FAILURE_RATE": "0.05",
        "RETRY_BASE_DELAY_MS": "100",
        "WORKER_CONCURRENCY": "32",
        "WS_SEND_QUEUE": "10000",
        "AUTH_REQUIRED": "false",
        "RATE_LIMIT_ORDERS_PER_S": "100000",
        "RATE_LIMIT_ORDERS_BURST": "100000",
        "RATE_LIMIT_READS_PER_S": "100000",
        "RATE_LIMIT_READS_BURST": "100000",
        "WS_MAX_SUBSCRIPTIONS": "100000",
        "WS_MAX_MESSAGES_PER_S": "1000",
    }


@dataclass
class Run:
    """What the clients saw: the orders accepted, when, and every frame received."""

    ids: list[uuid.UUID]
    accepted_s: float
    finished_s: float
    watcher: Watcher


async def run_orders(env: dict[str, str], log_dir: Path, orders: int, deadline_s: float) -> Run:
    """Two workers; submit and follow every order, killing worker 1 halfway; wait until all have ended."""
    async with started_stack(env, log_dir, names=("api", "notifier", "worker")) as stack:
        second = start_service("worker", env, log_dir)
        replacement: list[Service] = []
        try:
            await until_ready(second)
            watcher = Watcher(stack.ws, sockets=10)
            await watcher.start()

            def kill_a_worker() -> None:
                stack.services["worker"].process.send_signal(signal.SIGKILL)
                print("killed worker 1 (kill -9) at the halfway mark; starting another", flush=True)
                replacement.append(start_service("worker", env, log_dir))

            started = time.monotonic()
            ids = await submit_all(stack, watcher, orders, concurrency=32, on_half=kill_a_worker)
            accepted_s = time.monotonic() - started
            watcher.expected = len(ids)
            watcher.check_done()
            async with asyncio.timeout(deadline_s):
                await watcher.all_done.wait()
            finished_s = time.monotonic() - started
            await watcher.close()
        finally:
            # Workers started here are not the stack's: stop them whatever happened, or they outlive us.
            for worker in (second, *replacement):
                worker.stop()
    return Run(ids, accepted_s, finished_s, watcher)


async def _stored(database_url: str, ids: list[uuid.UUID]) -> tuple[Reconciliation, dict[str, int], int]:
    """What Postgres holds: the reconciliation of ``ids``, failed orders by code, and events stored."""
    engine = reader_engine(database_url)
    try:
        result = await reconcile(engine, ids)
        async with engine.connect() as conn:
            failures: dict[str, int] = dict(
                (
                    await conn.execute(
                        sa.select(orders_table.c.failure_code, sa.func.count())
                        .where(orders_table.c.status == "failed")
                        .group_by(orders_table.c.failure_code)
                    )
                ).all()
            )
            stored = int(
                (await conn.execute(sa.select(sa.func.count()).select_from(events_table))).scalar_one()
            )
    finally:
        await engine.dispose()
    return result, failures, stored


def _print_report(run: Run, result: Reconciliation, failures: dict[str, int], stored: int) -> bool:
    """Print the reconciliation of what clients received against Postgres; True when it is exact."""
    frames = run.watcher.frames.values()
    received = sum(len(seqs) for seqs in frames)
    duplicates = sum(len(seqs) - len(set(seqs)) for seqs in frames)
    out_of_order = sum(seqs != sorted(seqs) for seqs in frames)
    multi_exec = len(result.executed_twice)
    print(
        f"\nsoak: {len(run.ids)} orders accepted in {run.accepted_s:.1f}s, "
        f"all terminal after {run.finished_s:.1f}s"
    )
    print(f"  orders per final status : {dict(sorted(result.by_status.items()))}")
    print(f"  failures by code        : {dict(sorted(failures.items()))}")
    print(f"  orders with a seq gap   : {len(result.seq_gaps)}")
    print(f"  executions per order > 1: {multi_exec}")
    print(f"  confirmed w/o execution : {len(result.confirmed_without_execution)}")
    print(f"  executed, not confirmed : {len(result.executed_but_not_confirmed)}")
    print(f"  events received / stored: {received} / {stored}")
    print(f"  duplicate frames        : {duplicates}")
    print(f"  out-of-order streams    : {out_of_order}")
    exact = result.clean and received == stored and duplicates == 0 and out_of_order == 0
    print("  reconciliation          :", "EXACT" if exact else "MISMATCH")
    return exact


async def soak(orders: int, deadline_s: float, log_dir: Path) -> bool:
    """Run the soak and print the reconciliation; True when it is exact."""
    with throwaway_database("orders_soak") as database_url, throwaway_vhost("orders-soak") as amqp_url:
        run = await run_orders(_settings(database_url, amqp_url), log_dir, orders, deadline_s)
        result, failures, stored = await _stored(database_url, run.ids)
    return _print_report(run, result, failures, stored)


def main() -> None:
    """Parse the bounds and run."""
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--deadline-s", type=float, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as logs:
        ok = asyncio.run(soak(args.orders, args.deadline_s, Path(logs)))
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
