"""The Grafana dashboard and the alert rules read metrics that exist: the services' own (built by
orders_shared.metrics.create_metrics, the same code the services serve /metrics from) and RabbitMQ's
detailed per-queue metrics. promtool checks and unit-tests the rules. tests/containers/test_compose.py
repeats the name check against the /metrics of the running compose stack."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest

from orders_shared.metrics import create_metrics
from tests.deploy.support import ALERTS, ALERTS_TEST, DASHBOARD, run, tool, yaml_load

# RabbitMQ's prometheus plugin on /metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count
# (what deploy/compose/prometheus.yml scrapes), labelled by vhost and queue. Seen on RabbitMQ 3.10.8.
RABBITMQ_DETAILED = frozenset(
    {
        "rabbitmq_detailed_queue_messages",
        "rabbitmq_detailed_queue_messages_ready",
        "rabbitmq_detailed_queue_messages_unacked",
        "rabbitmq_detailed_queue_consumers",
    }
)
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}
_PROMQL_WORDS = frozenset(
    {
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "group",
        "rate",
        "irate",
        "increase",
        "delta",
        "idelta",
        "deriv",
        "histogram_quantile",
        "abs",
        "absent",
        "absent_over_time",
        "ceil",
        "floor",
        "round",
        "clamp",
        "clamp_min",
        "clamp_max",
        "label_replace",
        "label_join",
        "vector",
        "scalar",
        "time",
        "sort",
        "sort_desc",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "last_over_time",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "and",
        "or",
        "unless",
        "offset",
    }
)


def sample_names(families: dict[str, str]) -> set[str]:
    """The sample names of metric families, from their names and types. A family with labels and no
    observation yet has no sample, only its TYPE line; a counter's may or may not end in _total."""
    names: set[str] = set()
    for name, kind in families.items():
        base = name.removesuffix("_total") if kind == "counter" else name
        names |= {base + suffix for suffix in _SUFFIXES.get(kind, ("",))}
    return names


def exported_names() -> set[str]:
    """Every sample name the services' metrics can expose."""
    registry = create_metrics().registry
    names = sample_names({family.name: family.type for family in registry.collect()})
    exposed = generate_latest(registry).decode()
    names |= {line.split("{")[0].split(" ")[0] for line in exposed.splitlines() if not line.startswith("#")}
    return names - {""}


def metric_names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals (label values, regexes)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges, $__rate_interval
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    return set(re.findall(r"(?<![\w$.])[a-zA-Z_:][\w:]*", expr)) - _PROMQL_WORDS


def dashboard_panels() -> Iterator[dict[str, Any]]:
    """Every panel of the dashboard (rows' nested panels too)."""
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs() -> list[str]:
    """Every query of the dashboard."""
    return [t["expr"] for p in dashboard_panels() for t in p.get("targets", [])]


def alert_exprs() -> list[str]:
    """Every rule's expression in the alerts file."""
    groups = yaml_load(ALERTS.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def unknown_names(exprs: Iterable[str], known: set[str]) -> dict[str, set[str]]:
    """Expressions that read a metric nobody exports, with those names."""
    found: dict[str, set[str]] = {}
    for expr in exprs:
        names = metric_names_in(expr)
        assert names, f"no metric found in {expr!r}"
        if names - known:
            found[expr] = names - known
    return found


def test_name_extraction_finds_metrics_and_ignores_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, stage) (rate(order_stage_duration_seconds_bucket{stage="x"}'
        "[$__rate_interval]))) / ignoring(venue) group_left sum(worker_in_flight) > 0"
    )
    assert metric_names_in(expr) == {"order_stage_duration_seconds_bucket", "worker_in_flight"}


def test_dashboard_reads_only_exported_metrics() -> None:
    assert unknown_names(dashboard_exprs(), exported_names() | RABBITMQ_DETAILED) == {}


def test_alert_rules_read_only_exported_metrics() -> None:
    assert unknown_names(alert_exprs(), exported_names() | RABBITMQ_DETAILED) == {}


def test_dashboard_shows_what_operators_need() -> None:
    read = set().union(*(metric_names_in(e) for e in dashboard_exprs()))
    wanted = {
        "orders_accepted_total",  # orders accepted/s
        "order_transitions_total",  # per-status rate, failures
        "order_duration_seconds_bucket",  # end-to-end latency quantiles
        "order_stage_duration_seconds_bucket",  # per-stage latency
        "routing_decisions_total",  # routing share by venue
        "order_retries_total",  # retries
        "order_dead_letters_total",  # dead letters
        "rabbitmq_detailed_queue_messages_ready",  # queue depth
        "rabbitmq_detailed_queue_consumers",  # consumers
        "ws_connections",  # WebSocket connections
        "event_delivery_lag_seconds_bucket",  # delivery lag
        "internal_errors_total",  # errors
    }
    assert wanted <= read, sorted(wanted - read)


def test_every_dashboard_query_uses_the_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in dashboard_panels():
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        assert panel["description"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == f"${{{variable['name']}}}", panel["title"]


def test_alert_rules_pass_promtool_check() -> None:
    result = run([tool("promtool"), "check", "rules", ALERTS])
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_unit_tests_pass() -> None:
    result = run([tool("promtool"), "test", "rules", ALERTS_TEST])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested() -> None:
    groups = yaml_load(ALERTS.read_text())["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"]}
    tests = yaml_load(ALERTS_TEST.read_text())["tests"]
    firing = {
        case["alertname"] for test in tests for case in test["alert_rule_test"] if case.get("exp_alerts")
    }
    assert alerts == firing, f"alerts never shown to fire: {sorted(alerts - firing)}"


def test_rabbitmq_detailed_names_when_a_broker_exposes_them() -> None:
    """Against a RabbitMQ with the prometheus plugin on 127.0.0.1:15692 (compose enables it; this
    machine's broker usually does not)."""
    url = "http://127.0.0.1:15692/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count"
    try:
        response = httpx.get(url, timeout=2)
    except httpx.TransportError:
        pytest.skip("no RabbitMQ prometheus endpoint on 127.0.0.1:15692")
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", response.text, re.MULTILINE))
    assert sample_names(families) >= RABBITMQ_DETAILED
