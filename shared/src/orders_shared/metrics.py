"""Prometheus metrics of the engine, one set of names for every service, on a registry passed in.

A service that runs several processes on one port (the api with API_WORKERS > 1) uses prometheus-client's
multiprocess mode: PROMETHEUS_MULTIPROC_DIR is set before the processes start, each writes its values
there, and `/metrics`, whichever process answers it, reports all of them together (`render`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"

_SLOW = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 7.5, 10, 20, 30, 60)
_BATCH = (1, 2, 4, 8, 16, 32, 64, 128, 256)
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


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


def _counter(r: CollectorRegistry, name: str, doc: str, *labels: str) -> Counter:
    return Counter(name, doc, labels, registry=r)


def _histogram(
    r: CollectorRegistry, name: str, doc: str, buckets: tuple[float, ...], *labels: str
) -> Histogram:
    return Histogram(name, doc, labels, buckets=buckets, registry=r)


def _gauge(
    r: CollectorRegistry, name: str, doc: str, multiprocess_mode: Literal["livesum", "livemax"]
) -> Gauge:
    # The mode says how the processes of one service (API_WORKERS > 1) add up in multiprocess mode.
    return Gauge(name, doc, registry=r, multiprocess_mode=multiprocess_mode)


def create_metrics(registry: CollectorRegistry | None = None) -> Metrics:
    """Build the metrics on ``registry`` (a fresh one when None)."""
    r = registry if registry is not None else CollectorRegistry()
    return Metrics(
        registry=r,
        orders_accepted=_counter(r, "orders_accepted", "Orders accepted by the api."),
        orders_rejected=_counter(r, "orders_rejected", "Orders refused by the api, by reason.", "reason"),
        ingest_batch_size=_histogram(
            r, "order_ingest_batch_size", "Orders stored per transaction by the api's group commit.", _BATCH
        ),
        ignored_fields=_counter(
            r, "order_ignored_fields", "Unknown request fields ignored (seed compatibility)."
        ),
        transitions=_counter(r, "order_transitions", "Status transitions, by new status.", "status"),
        order_duration=_histogram(
            r, "order_duration_seconds", "From acceptance to a terminal status, by outcome.", _SLOW, "outcome"
        ),
        stage_duration=_histogram(
            r, "order_stage_duration_seconds", "Time spent in each worker stage.", _SLOW, "stage"
        ),
        retries=_counter(r, "order_retries", "Attempts scheduled again, by reason.", "reason"),
        dead_letters=_counter(r, "order_dead_letters", "Messages sent to orders.dead."),
        redeliveries=_counter(r, "order_redeliveries", "Messages RabbitMQ delivered again."),
        routing_decisions=_counter(r, "routing_decisions", "Routes chosen, by venue (or split).", "venue"),
        quote_duration=_histogram(
            r, "venue_quote_duration_seconds", "Quote latency, by venue.", _SLOW, "venue"
        ),
        venue_errors=_counter(
            r, "venue_errors", "Venue calls that failed, by venue and kind.", "venue", "kind"
        ),
        worker_in_flight=_gauge(r, "worker_in_flight", "Orders a worker holds now.", "livesum"),
        outbox_published=_counter(
            r, "outbox_published", "Orders published to RabbitMQ after their commit, or by the relay."
        ),
        outbox_backlog=_gauge(
            r, "outbox_backlog", "Accepted orders not yet published (last relay pass).", "livemax"
        ),
        publish_failures=_counter(
            r, "amqp_publish_failures", "Publishes that failed, by what was published.", "kind"
        ),
        sweeper_requeued=_counter(
            r, "sweeper_requeued", "Stuck orders the sweeper handed to a worker again."
        ),
        ws_connections=_gauge(r, "ws_connections", "Open WebSocket connections.", "livesum"),
        ws_messages_sent=_counter(r, "ws_messages_sent", "Frames sent to WebSocket clients."),
        ws_slow_consumer_closes=_counter(
            r, "ws_slow_consumer_closes", "Sockets closed with 1013 because the client did not read."
        ),
        event_delivery_lag=_histogram(
            r, "event_delivery_lag_seconds", "From an event's commit to its frame being sent.", _FAST
        ),
        internal_errors=_counter(r, "internal_errors", "Errors of ours, by where they happened.", "where"),
    )


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text exposition of ``registry`` (of every process, in multiprocess mode) and its content type."""
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped in prometheus-client
    return generate_latest(registry), CONTENT_TYPE_LATEST
