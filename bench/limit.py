"""The `limit` scenario: 100,000 waiting limit orders across the pairs, and what they cost the trigger.

- The orders go straight into the scenario's database in one INSERT … SELECT (with their `pending` and
  `open` events, as the api writes them): every pair, both directions, amounts of $10-$1,000, limit prices
  5-50 % better than the market (none fires), expiring in 1-29 days; then ANALYZE.
- Memory per waiting order: the bytes `orders` and `order_events` (tables, indexes, TOAST) grew by, over the
  orders; and the worker's resident set (VmRSS) before and after, over the orders.
- Crossings (the stack: api, one worker, notifier; venues at 0 latency, a market that stands still between
  swaps): each round puts a limit order 0.3 % past the price and a market order of ~$100,000 that moves the
  pool ~0.7 % across it, alternately up and down; the time from the pool change (the market order's
  `confirmed` event, written with the pools row) to the limit order's `routing` event, both Postgres times.
- CPU per pool change: with the services stopped, the worker's `Trigger` runs in this process on the same
  database: each pass for a pair after its pools row changed (a new version, so the pass parses it as after
  a swap), timed with `time.process_time` (this process's CPU) and the wall clock; the lease connection's
  backend CPU (`/proc`) over all the passes, per pass.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
from prometheus_client import CollectorRegistry

from bench.measure import cpu_seconds
from bench.report import Result
from orders_shared.amqp import connect
from orders_shared.db import Database
from orders_shared.metrics import create_metrics
from orders_shared.pools import ParsedPools
from orders_venues import Catalog
from orders_venues.pools import DEFAULT_USD_PRICES
from orders_worker.app import build_trigger, venue_latency
from orders_worker.resources import Resources
from orders_worker.settings import WorkerSettings

if TYPE_CHECKING:
    from bench.scenarios import Bench

# Venues at 0 latency; no drift and arbitrage far slower than the run: only the rounds' swaps move pools.
LIMIT_ENV = {
    "VENUE_QUOTE_LATENCY_MS": "0",
    "VENUE_EXECUTE_LATENCY_MS": "0",
    "MARKET_VOLATILITY_BPS": "0",
    "ARBITRAGE_HALF_LIFE_S": "86400",
}
CLIENT = "bench-limit"

# Every direction of every pair, each with (token_in, token_out, market price tokenOut per tokenIn).
_PAIRS = (("SOL", "USDC"), ("SOL", "USDT"), ("USDC", "USDT"), ("JUP", "SOL"), ("BONK", "SOL"))
_DIRECTIONS = [(a, b) for pair in _PAIRS for a, b in (pair, pair[::-1])]

# generate_series numbers the orders; each takes a direction in turn and random terms of its own.
_INSERT_WAITING = """
WITH directions AS (
    SELECT (n - 1)::int AS d, token_in, token_out, price, usd_in
    FROM unnest(%(tokens_in)s::text[], %(tokens_out)s::text[], %(prices)s::numeric[], %(usd_in)s::numeric[])
        WITH ORDINALITY AS t(token_in, token_out, price, usd_in, n)
), created AS (
    INSERT INTO orders (
        id, client, type, token_in, token_out, amount_in, slippage_bps, status, attempt, last_seq,
        limit_price, expires_at, created_at, updated_at, enqueued_at
    )
    SELECT gen_random_uuid(), %(client)s, 'limit', d.token_in, d.token_out,
        round((10 + random() * 990)::numeric / d.usd_in, 5), 50, 'open', 0, 2,
        round(d.price * (1.05 + random() * 0.45)::numeric, 12),
        now() + (1 + random() * 28) * interval '1 day', now(), now(), now()
    FROM generate_series(1, %(count)s) AS g(i)
    JOIN directions d ON d.d = g.i %% %(directions)s
    RETURNING id, created_at
)
INSERT INTO order_events (order_id, seq, status, detail, created_at)
SELECT created.id, s.seq, s.status, '{}'::jsonb, created.created_at
FROM created, (VALUES (1, 'pending'), (2, 'open')) AS s(seq, status)
"""
_BYTES = "SELECT pg_total_relation_size('orders') + pg_total_relation_size('order_events')"
_INDEX_BYTES = "SELECT pg_relation_size('ix_orders_open_pair_price')"


def insert_waiting(database_url: str, count: int) -> dict[str, Any]:
    """``count`` open limit orders in one statement; the bytes they take, and how long it took."""
    usd = DEFAULT_USD_PRICES
    params = {
        "tokens_in": [a for a, _ in _DIRECTIONS],
        "tokens_out": [b for _, b in _DIRECTIONS],
        "prices": [usd[a] / usd[b] for a, b in _DIRECTIONS],
        "usd_in": [usd[a] for a, _ in _DIRECTIONS],
        "client": CLIENT,
        "count": count,
        "directions": len(_DIRECTIONS),
    }
    with psycopg.connect(database_url, autocommit=True) as conn:
        before = _scalar(conn, _BYTES)
        started = time.monotonic()
        conn.execute(_INSERT_WAITING, params)
        inserted_s = time.monotonic() - started
        conn.execute("ANALYZE orders")
        conn.execute("ANALYZE order_events")
        after, index = _scalar(conn, _BYTES), _scalar(conn, _INDEX_BYTES)
    return {
        "orders": count,
        "insert_s": round(inserted_s, 2),
        "pg_bytes_per_order": round((after - before) / count, 1),
        "pair_price_index_bytes_per_order": round(index / count, 1),
    }


def _scalar(conn: psycopg.Connection[Any], query: str) -> int:
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def rss_bytes(pid: int) -> int:
    """VmRSS of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


# The limit order's `routing` (its fire) and the market order's `confirmed` (written with the pools row).
_FIRE_AND_MOVE = """
SELECT (SELECT created_at FROM order_events WHERE order_id = %(limit)s AND seq = 3),
       (SELECT created_at FROM order_events WHERE order_id = %(market)s AND status = 'confirmed')
"""


def crossings(api_url: str, database_url: str, key: str | None, rounds: int, timeout_s: float) -> list[float]:
    """Milliseconds from each round's pool change to the `routing` of the limit order it crossed."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    found: list[float] = []
    with (
        httpx.Client(base_url=api_url, headers=headers, timeout=10) as client,
        psycopg.connect(database_url, autocommit=True) as conn,
    ):
        for n in range(rounds):
            # Up: sell 0.5 SOL at 0.3 % over the price, then buy $100,000 of SOL. Down: the mirror image.
            sold, bought, amount, move = (
                ("SOL", "USDC", "0.5", "100000") if n % 2 == 0 else ("USDC", "SOL", "75", "666")
            )
            quote = client.get("/api/quote", params={"tokenIn": sold, "tokenOut": bought, "amountIn": amount})
            price = Decimal(quote.json()["expectedAmountOut"]) / Decimal(amount) * Decimal("1.003")
            limit = _post(client, {"tokenIn": sold, "tokenOut": bought, "amountIn": amount, "type": "limit",
                                   "limitPrice": f"{price:.9f}"})  # fmt: skip
            market = _post(
                client, {"tokenIn": bought, "tokenOut": sold, "amountIn": move, "slippageBps": 500}
            )
            deadline = time.monotonic() + timeout_s
            while True:
                row = conn.execute(_FIRE_AND_MOVE, {"limit": limit, "market": market}).fetchone()
                if row is not None and row[0] is not None and row[1] is not None:
                    found.append((row[0] - row[1]).total_seconds() * 1000)
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"round {n}: the limit order did not fire within {timeout_s} s")
                time.sleep(0.005)  # the bench follows no stream here: it asks Postgres
    return found


def _post(client: httpx.Client, body: dict[str, object]) -> str:
    response = client.post("/api/orders/execute", json=body)
    if response.status_code != 202:
        raise RuntimeError(f"POST /api/orders/execute answered {response.status_code}: {response.text}")
    order_id: str = response.json()["orderId"]
    return order_id


async def pass_costs(database_url: str, amqp_url: str, passes: int) -> dict[str, Any]:
    """The worker's Trigger in this process: CPU and wall time of each pair's pass after a pools change."""
    settings = WorkerSettings(
        database_url=database_url,
        amqp_url=amqp_url,
        venue_quote_latency_ms="0",
        venue_execute_latency_ms="0",
        market_volatility_bps=0,
        arbitrage_half_life_s=86400,
    )
    cpu_ms: list[float] = []
    wall_ms: list[float] = []
    async with Database(database_url, size=2, application_name="bench-limit") as db:
        broker = await connect(amqp_url, name="bench-limit")
        res = Resources(
            db,
            settings,
            venue_latency(settings),
            create_metrics(CollectorRegistry()),
            ParsedPools(),
            Catalog(),
        )
        trigger = await build_trigger(res, broker)
        try:
            await trigger.pass_once()  # takes every pair's lease
            pairs = sorted(trigger.held)
            lease = await trigger.connection()
            row = await (await lease.execute("SELECT pg_backend_pid()")).fetchone()
            assert row is not None
            backend, backend_cpu = int(row[0]), cpu_seconds(int(row[0]))
            for n in range(passes):
                pair = pairs[n % len(pairs)]
                async with db.connection() as conn:
                    await conn.execute("UPDATE pools SET version = version + 1 WHERE pair = %s", [pair])
                cpu, wall = time.process_time(), time.perf_counter()
                await trigger.pass_pair(lease, pair)
                cpu_ms.append((time.process_time() - cpu) * 1000)
                wall_ms.append((time.perf_counter() - wall) * 1000)
            backend_ms = (cpu_seconds(backend) - backend_cpu) * 1000 / passes
            ticks = []
            for _ in range(20):
                cpu = time.process_time()
                await trigger.pass_once()
                ticks.append((time.process_time() - cpu) * 1000)
        finally:
            await trigger.release()
            await broker.close()
    return {
        "passes": passes,
        "pairs": pairs,
        "cpu_ms": _percentiles(cpu_ms),
        "wall_ms": _percentiles(wall_ms),
        "postgres_backend_cpu_ms_per_pass": round(backend_ms, 3),
        "tick_cpu_ms": _percentiles(ticks),
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 3),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "max": round(ordered[-1], 3),
    }


def _idle_cpu_ms_per_s(pid: int, seconds: float = 5) -> float:
    """The process's CPU over ``seconds`` of doing nothing but its ticks, per second (10 ms clock ticks)."""
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return round((cpu_seconds(pid) - before) * 1000 / seconds, 1)


def run(bench: Bench) -> Result:
    """The scenario: memory per waiting order, crossings to `routing`, the trigger's CPU per pool change."""
    args = bench.args
    count, rounds = args.limit_orders, args.limit_crossings
    label = bench.label("limit")
    with bench.stack(label) as stack:
        _, worker, _ = stack.start_all([("api", LIMIT_ENV), ("worker", LIMIT_ENV), ("notifier", {})])
        database_url, amqp_url = stack.env["DATABASE_URL"], stack.env["AMQP_URL"]
        time.sleep(2)  # a few trigger ticks, so its resident set is the running one
        empty_cpu = _idle_cpu_ms_per_s(worker.pid)
        rss_before = rss_bytes(worker.pid)
        memory = insert_waiting(database_url, count)
        time.sleep(3)  # a few ticks over the 100,000 orders
        memory["worker_rss_delta_bytes_per_order"] = round((rss_bytes(worker.pid) - rss_before) / count, 2)
        memory["worker_idle_cpu_ms_per_s"] = _idle_cpu_ms_per_s(worker.pid)
        memory["worker_idle_cpu_ms_per_s_without_orders"] = empty_cpu
        stack.mark()
        key = bench.load_env().get("BENCH_API_KEY")
        latencies = crossings(stack.of("api")[0].url, database_url, key, rounds, args.limit_timeout)
        usage = stack.usage()
    passes = asyncio.run(pass_costs(database_url, amqp_url, args.limit_passes))
    fired = _percentiles(latencies)
    detail = {"memory": memory, "crossing_to_routing_ms": fired, "latencies_ms": latencies, "passes": passes}
    cpu, wall, tick = passes["cpu_ms"], passes["wall_ms"], passes["tick_cpu_ms"]
    notes = "; ".join(
        [
            f"trigger pass per pool change: CPU p50 {cpu['p50']} ms, p99 {cpu['p99']} ms (its process), "
            f"wall p50 {wall['p50']} ms, p99 {wall['p99']} ms, "
            f"Postgres backend {passes['postgres_backend_cpu_ms_per_pass']} ms/pass",
            f"full tick (every pair, expiry) CPU p50 {tick['p50']} ms",
            f"crossing -> routing p50 {fired['p50']} ms, p99 {fired['p99']} ms, max {fired['max']} ms "
            f"over {rounds} crossings",
            f"memory per waiting order: Postgres {memory['pg_bytes_per_order']} B (pair/price index "
            f"{memory['pair_price_index_bytes_per_order']} B), worker RSS "
            f"{memory['worker_rss_delta_bytes_per_order']} B",
            f"worker idle CPU (its ticks) {memory['worker_idle_cpu_ms_per_s_without_orders']} ms/s without "
            f"waiting orders, {memory['worker_idle_cpu_ms_per_s']} ms/s with {count:,}",
            f"inserted in {memory['insert_s']} s",
        ]
    )
    return Result(
        "limit",
        f"{count:,} waiting limit orders, {rounds} crossings, {args.limit_passes} passes",
        cpu["p99"],
        f"ms CPU/pool change p99 (p50 {cpu['p50']})",
        fired["p50"],
        fired["p99"],
        usage,
        notes,
        detail,
        ok=len(latencies) == rounds,
    )
