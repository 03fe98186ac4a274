"""Prometheus metrics of the engine, one set of names for every service, on a registry passed in.

A service that runs several processes on one port (the api with API_WORKERS > 1) uses prometheus-client's
multiprocess mode: PROMETHEUS_MULTIPROC_DIR is set before the processes start, each writes its values
there, and `/metrics`, whichever process answers it, reports all of them together (`render`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 7.5, 10, 20, 30, 60)
_FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


@dataclass(frozen=True, slots=True)
class Metrics:
    """Every metric the services export; label values come from small closed sets."""

    registry: CollectorRegistry
    orders_accepted: Counter
    orders_rejected: Counter
    ingest_batch_size: Histogram
    ignored_fields: Counter
    transitions: Counter
    order_duration: Histogram
    stage_duration: Histogram
    retries: Counter
    dead_letters: Counter
    redeliveries: Counter
    routing_decisions: Counter
    quote_duration: Histogram
    venue_errors: Counter
    worker_in_flight: Gauge
    outbox_published: Counter
    outbox_backlog: Gauge
    publish_failures: Counter
    sweeper_requeued: Counter
    ws_connections: Gauge
    ws_messages_sent: Counter
    ws_slow_consumer_closes: Counter
    event_delivery_lag: Histogram
    internal_errors: Counter


def create_metrics(registry: CollectorRegistry | None = None) -> Metrics:
    """Build the metrics on ``registry`` (a fresh one when None)."""
    r = registry if registry is not None else CollectorRegistry()
    return Metrics(
        registry=r,
        orders_accepted=Counter("orders_accepted", "Orders accepted by the api.", registry=r),
        orders_rejected=Counter(
            "orders_rejected", "Orders refused by the api, by reason.", ["reason"], registry=r
        ),
        ingest_batch_size=Histogram(
            "order_ingest_batch_size",
            "Orders stored per transaction by the api's group commit.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        ),
        ignored_fields=Counter(
            "order_ignored_fields", "Unknown request fields ignored (seed compatibility).", registry=r
        ),
        transitions=Counter(
            "order_transitions", "Status transitions, by new status.", ["status"], registry=r
        ),
        order_duration=Histogram(
            "order_duration_seconds",
            "From acceptance to a terminal status, by outcome.",
            ["outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        ),
        stage_duration=Histogram(
            "order_stage_duration_seconds",
            "Time spent in each worker stage.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        ),
        retries=Counter("order_retries", "Attempts scheduled again, by reason.", ["reason"], registry=r),
        dead_letters=Counter("order_dead_letters", "Messages sent to orders.dead.", registry=r),
        redeliveries=Counter("order_redeliveries", "Messages RabbitMQ delivered again.", registry=r),
        routing_decisions=Counter(
            "routing_decisions", "Routes chosen, by venue (or split).", ["venue"], registry=r
        ),
        quote_duration=Histogram(
            "venue_quote_duration_seconds",
            "Quote latency, by venue.",
            ["venue"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        ),
        venue_errors=Counter(
            "venue_errors", "Venue calls that failed, by venue and kind.", ["venue", "kind"], registry=r
        ),
        worker_in_flight=Gauge(
            "worker_in_flight", "Orders a worker holds now.", registry=r, multiprocess_mode="livesum"
        ),
        outbox_published=Counter(
            "outbox_published",
            "Orders published to RabbitMQ after their commit, or by the relay.",
            registry=r,
        ),
        outbox_backlog=Gauge(
            "outbox_backlog",
            "Accepted orders not yet published (last relay pass).",
            registry=r,
            multiprocess_mode="livemax",
        ),
        publish_failures=Counter(
            "amqp_publish_failures", "Publishes that failed, by what was published.", ["kind"], registry=r
        ),
        sweeper_requeued=Counter(
            "sweeper_requeued", "Stuck orders the sweeper handed to a worker again.", registry=r
        ),
        ws_connections=Gauge(
            "ws_connections", "Open WebSocket connections.", registry=r, multiprocess_mode="livesum"
        ),
        ws_messages_sent=Counter("ws_messages_sent", "Frames sent to WebSocket clients.", registry=r),
        ws_slow_consumer_closes=Counter(
            "ws_slow_consumer_closes", "Sockets closed with 1013 because the client did not read.", registry=r
        ),
        event_delivery_lag=Histogram(
            "event_delivery_lag_seconds",
            "From an event's commit to its frame being sent.",
            buckets=_FAST_BUCKETS,
            registry=r,
        ),
        internal_errors=Counter(
            "internal_errors", "Errors of ours, by where they happened.", ["where"], registry=r
        ),
    )


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text exposition of ``registry`` (of every process, in multiprocess mode) and its content type."""
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped in prometheus-client
    return generate_latest(registry), CONTENT_TYPE_LATEST
