"""The AsyncAPI 3.0 document of the engine's messages, generated from the models the code uses.

    python -m docs.asyncapi > docs/asyncapi.yaml

The WebSocket protocol (the notifier's frames and the `subscribe` message) and the RabbitMQ messages
(`ExecuteOrders` and `ExecuteOrder` on `orders`, `OrderEvent` on `order.events`, `TokenLaunched` on
`market.events`) take their schemas from
`orders_shared.contracts` and `orders_notifier.protocol`; `tests/docs/test_asyncapi.py` fails when the
committed file is not what this prints.
"""

from __future__ import annotations

import json
import re
import sys
from copy import deepcopy
from typing import Any

from pydantic.json_schema import models_json_schema

from orders_notifier.protocol import NORMAL, POLICY_VIOLATION, TRY_AGAIN_LATER, Subscribe
from orders_shared import topology
from orders_shared.contracts import ExecuteOrder, ExecuteOrders, OrderEvent, TokenLaunched
from orders_shared.status import TERMINAL, Status

Json = dict[str, Any]
SCHEMAS = "#/components/schemas/"
AMQP_BINDING = "0.3.0"
WS_BINDING = "0.1.0"
# Published with publisher confirms: work persistent; events transient (Postgres is their record).
PERSISTENT = {"deliveryMode": 2, "bindingVersion": AMQP_BINDING}
TRANSIENT = {"deliveryMode": 1, "bindingVersion": AMQP_BINDING}
ACK = {"ack": True, "bindingVersion": AMQP_BINDING}  # acked only after the step's transaction commits


def _wire(node: Any) -> Any:
    """A pydantic schema as the wire has it: no generated titles, and since nulls are never sent
    (`exclude_none`), an optional field is absent rather than null."""
    if isinstance(node, list):
        return [_wire(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: Json = {}
    for key, value in node.items():
        if key == "title" or (key == "default" and value is None):
            continue
        out[key] = {name: _wire(s) for name, s in value.items()} if key == "properties" else _wire(value)
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        if len(rest) == 1:
            del out["anyOf"]
            out = {**rest[0], **out}
    return out


# What each status means to a client; the Status schema carries it (the enum itself is the model's).
STATUS_MEANING = {
    Status.PENDING: "stored and accepted",
    Status.OPEN: (
        "a limit or sniper order waiting for its trigger (not an end); a fired limit order whose swap no "
        "longer pays its minAmountOut when it lands comes back to `open` from `submitted`, with "
        "`missedPrice` and `limitPrice`, and waits again until it fills or expires"
    ),
    Status.ROUTING: "quoting the venues (a fired limit order routes twice: its trigger, then the attempt)",
    Status.BUILDING: "the route is chosen and the transaction built",
    Status.SUBMITTED: "the transaction is sent",
    Status.CONFIRMED: "the swap landed (an end)",
    Status.FAILED: "the order failed, with errorCode and error (an end)",
    Status.CANCELLED: "its client cancelled it while it was `open` (an end)",
    Status.EXPIRED: "it was still `open` at its expiresAt (an end)",
}
# Event fields whose meaning the models leave unsaid. The schema stays the model's (a decimal string).
EVENT_FIELD_MEANING = {
    "missedPrice": (
        "On `open` after `submitted`: the average price the fired limit order's swap would have paid "
        "when it landed, tokenOut per tokenIn, below its limit"
    ),
    "limitPrice": "On `open` after `submitted`: the order's limit price, tokenOut per tokenIn",
}


def _ends() -> str:
    """`confirmed`, `failed`, `cancelled` or `expired`: the statuses that end an order, in table order."""
    ends = [f"`{s.value}`" for s in Status if s in TERMINAL]
    return ", ".join(ends[:-1]) + " or " + ends[-1]


def schemas() -> Json:
    """Every payload schema, from the models; OrderEventFrame is an OrderEvent as a WebSocket gets it."""
    _, top = models_json_schema(
        [
            (ExecuteOrder, "serialization"),
            (ExecuteOrders, "serialization"),
            (OrderEvent, "serialization"),
            (TokenLaunched, "serialization"),
            (Subscribe, "validation"),
        ],
        ref_template=SCHEMAS + "{model}",
    )
    found: Json = _wire(top["$defs"])
    found["Status"]["description"] = "The life of an order. " + "; ".join(
        f"`{status.value}`: {meaning}" for status, meaning in STATUS_MEANING.items()
    )
    fields = found["OrderEvent"]["properties"]
    for name, meaning in EVENT_FIELD_MEANING.items():
        fields[name] = {**fields.get(name, {"type": "string"}), "description": meaning}
    frame = deepcopy(found["OrderEvent"])
    del frame["properties"]["v"]  # OrderEvent.frame() leaves the version out
    frame["description"] = (
        "An OrderEvent as a WebSocket client receives it: camelCase, no `v`, only the fields of its status."
    )
    found["OrderEventFrame"] = frame
    found["Connected"] = {
        "type": "object",
        "description": "The first frame on every socket.",
        "required": ["status"],
        "properties": {
            "status": {"const": "ws_connected"},
            "orderId": {"type": "string", "format": "uuid", "description": "Set when opened with ?orderId="},
        },
    }
    found["StreamError"] = {
        "type": "object",
        "description": (
            f"A refusal. An unknown or malformed order id, or no valid credentials: then closed "
            f"{POLICY_VIOLATION}. A malformed client message: the socket stays open."
        ),
        "required": ["status", "error"],
        "properties": {
            "status": {"const": "error"},
            "error": {"type": "string"},
            "orderId": {"type": "string"},
        },
    }
    return dict(sorted(found.items()))


def _ref(path: str) -> Json:
    return {"$ref": path}


def _message(name: str, title: str, summary: str, schema: str, **extra: Any) -> Json:
    return {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "payload": _ref(SCHEMAS + schema),
        **extra,
    }


EXAMPLE_EVENT = {
    "orderId": "89512da2-d7e3-43df-b85f-85b6f02a5d17",
    "seq": 3,
    "status": "building",
    "at": "2026-11-25T14:44:54.612410Z",
    "attempt": 1,
    "dexChosen": "raydium",
    "route": [{"venue": "raydium", "percent": 100, "amountIn": "1.5", "expectedAmountOut": "231.048755"}],
    "minAmountOut": "229.893511",
}
# A fired limit order whose swap paid less than its limit when it landed: back to open, waiting again.
EXAMPLE_MISSED = {
    "orderId": "5b0e6f0c-7c1e-4d2a-9f3b-2e8d1a6c4b90",
    "seq": 7,
    "status": "open",
    "at": "2026-11-30T08:12:03.481022Z",
    "attempt": 1,
    "missedPrice": "151.93",
    "limitPrice": "152",
}
EXAMPLE_CANCELLED = {
    "orderId": "5b0e6f0c-7c1e-4d2a-9f3b-2e8d1a6c4b90",
    "seq": 8,
    "status": "cancelled",
    "at": "2026-11-30T08:12:40.007311Z",
    "attempt": 1,
}


def _exchange(name: str, kind: str) -> Json:
    return {"name": name, "type": kind, "durable": True, "autoDelete": False, "vhost": "/"}


def document() -> Json:
    """The whole AsyncAPI document."""
    statuses = [s.value for s in Status]
    ws_messages = {
        "connected": _ref("#/components/messages/Connected"),
        "orderEvent": _ref("#/components/messages/OrderEventFrame"),
        "error": _ref("#/components/messages/StreamError"),
        "subscribe": _ref("#/components/messages/Subscribe"),
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Order execution engine: order streams and messages",
            "version": "0.1.0",
            "description": (
                "Every step of a market order (pending → routing → building → submitted → confirmed, or "
                "failed; a limit or sniper order waits open first, and may end cancelled or expired "
                "instead; a fired limit order that missed its price goes back from submitted to open) as the "
                "notifier streams it over a WebSocket, and the RabbitMQ messages between "
                "the api, the workers and the notifiers, token launches included. Generated by "
                "`python -m docs.asyncapi` from the pydantic models the services use."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "notifier": {
                "host": "localhost:8001",
                "protocol": "ws",
                "description": "The notifier (behind the compose gateway: localhost:3000, same path).",
                "security": [
                    _ref("#/components/securitySchemes/bearer"),
                    _ref("#/components/securitySchemes/apiKeyHeader"),
                    _ref("#/components/securitySchemes/ticket"),
                ],
            },
            "rabbitmq": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The broker between the services; Postgres is the record.",
            },
        },
        "channels": {
            "orderStream": {
                "address": "/api/orders/ws",
                "title": "An order's stream",
                "description": (
                    "`?orderId=<id>[&afterSeq=n]` follows one order: `ws_connected`, then every event "
                    "after `afterSeq` (the whole history first for a late subscriber), each seq once and "
                    f"in order, then close {NORMAL} after {_ends()}. `open` is no end: a limit or "
                    "sniper order's socket stays open while it waits, and a limit order may come back to "
                    "`open` after `submitted` (with `missedPrice`). Without `orderId`, "
                    "send `subscribe` to follow many orders on one socket. A client too slow to read is "
                    f"closed with {TRY_AGAIN_LATER} and resumes with `afterSeq`, losing nothing."
                ),
                "servers": [_ref("#/servers/notifier")],
                "messages": ws_messages,
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "properties": {
                                "orderId": {"type": "string", "format": "uuid"},
                                "afterSeq": {"type": "integer", "minimum": 0, "default": 0},
                                "ticket": {"type": "string", "description": "A short-lived WebSocket ticket"},
                            },
                        },
                        "bindingVersion": WS_BINDING,
                    }
                },
            },
            "ordersExecute": {
                "address": topology.EXECUTE_KEY,
                "title": f"Work: quorum queue {topology.EXECUTE_QUEUE}",
                "description": (
                    f"Routing key `{topology.EXECUTE_KEY}` on the direct exchange "
                    f"`{topology.ORDERS_EXCHANGE}` → quorum queue `{topology.EXECUTE_QUEUE}` "
                    f"(x-delivery-limit; dead-letters to `{topology.DEAD_QUEUE}`). "
                    "The api publishes new orders as `ExecuteOrders`, a few to a message, right after "
                    "their commit (its outbox relay publishes what that missed); the sweeper republishes "
                    "an order stuck without progress "
                    "(`ExecuteOrder` with `seenSeq`). Retries wait in "
                    f"`{topology.retry_queue(1)}`…`{topology.retry_queue(topology.MAX_RETRY_QUEUES)}` "
                    f"(routing keys `{topology.retry_key(1)}`…), whose TTL dead-letters them back here."
                ),
                "servers": [_ref("#/servers/rabbitmq")],
                "messages": {
                    "executeOrders": _ref("#/components/messages/ExecuteOrders"),
                    "executeOrder": _ref("#/components/messages/ExecuteOrder"),
                },
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": _exchange(topology.ORDERS_EXCHANGE, "direct"),
                        "bindingVersion": AMQP_BINDING,
                    }
                },
            },
            "ordersDead": {
                "address": topology.DEAD_KEY,
                "title": f"Dead letters: quorum queue {topology.DEAD_QUEUE}",
                "description": "What no attempt could finish: the order is `failed` with its reason.",
                "servers": [_ref("#/servers/rabbitmq")],
                "messages": {"executeOrder": _ref("#/components/messages/ExecuteOrder")},
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": _exchange(topology.ORDERS_EXCHANGE, "direct"),
                        "bindingVersion": AMQP_BINDING,
                    }
                },
            },
            "orderEvents": {
                "address": topology.event_key("{status}"),
                "title": f"Events: topic exchange {topology.EVENTS_EXCHANGE}",
                "description": (
                    "Published by a worker after each step's transaction commits. Every notifier replica "
                    "binds an exclusive queue of its own to `order.#`, so each sees every event."
                ),
                "parameters": {"status": {"enum": statuses, "description": "The event's status."}},
                "servers": [_ref("#/servers/rabbitmq")],
                "messages": {"orderEvent": _ref("#/components/messages/OrderEvent")},
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": _exchange(topology.EVENTS_EXCHANGE, "topic"),
                        "bindingVersion": AMQP_BINDING,
                    }
                },
            },
            "marketLaunches": {
                "address": topology.LAUNCH_KEY,
                "title": f"Launches: topic exchange {topology.MARKET_EXCHANGE}",
                "description": (
                    "A token launch, announced after it commits (Postgres holds the record: `tokens` and "
                    "the new `pools` row with `opens_at`). Each api replica binds an exclusive queue of "
                    "its own, so each learns the token at once; one that missed it reads `tokens` on a "
                    "miss. Sniper orders for the token fire in the first pair turn after `opensAt`."
                ),
                "servers": [_ref("#/servers/rabbitmq")],
                "messages": {"tokenLaunched": _ref("#/components/messages/TokenLaunched")},
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": _exchange(topology.MARKET_EXCHANGE, "topic"),
                        "bindingVersion": AMQP_BINDING,
                    }
                },
            },
        },
        "operations": {
            "streamOrderEvents": {
                "action": "send",
                "title": "The notifier streams an order's frames",
                "channel": _ref("#/channels/orderStream"),
                "messages": [
                    _ref("#/channels/orderStream/messages/connected"),
                    _ref("#/channels/orderStream/messages/orderEvent"),
                    _ref("#/channels/orderStream/messages/error"),
                ],
            },
            "receiveSubscribe": {
                "action": "receive",
                "title": "The notifier takes subscribe requests",
                "channel": _ref("#/channels/orderStream"),
                "messages": [_ref("#/channels/orderStream/messages/subscribe")],
            },
            "publishExecuteOrder": {
                "action": "send",
                "title": "The api (new orders, sweeper) and the worker (retries) enqueue work",
                "channel": _ref("#/channels/ordersExecute"),
                "messages": [
                    _ref("#/channels/ordersExecute/messages/executeOrders"),
                    _ref("#/channels/ordersExecute/messages/executeOrder"),
                ],
                "bindings": {"amqp": PERSISTENT},
            },
            "consumeExecuteOrder": {
                "action": "receive",
                "title": "A worker runs the orders' next step; acks after every one's step commits",
                "channel": _ref("#/channels/ordersExecute"),
                "messages": [
                    _ref("#/channels/ordersExecute/messages/executeOrders"),
                    _ref("#/channels/ordersExecute/messages/executeOrder"),
                ],
                "bindings": {"amqp": ACK},
            },
            "deadLetterExecuteOrder": {
                "action": "send",
                "title": "A worker parks what no attempt could finish (as does the queue past its limit)",
                "channel": _ref("#/channels/ordersDead"),
                "messages": [_ref("#/channels/ordersDead/messages/executeOrder")],
                "bindings": {"amqp": PERSISTENT},
            },
            "publishOrderEvent": {
                "action": "send",
                "title": "A worker announces a committed step",
                "channel": _ref("#/channels/orderEvents"),
                "messages": [_ref("#/channels/orderEvents/messages/orderEvent")],
                "bindings": {"amqp": TRANSIENT},
            },
            "consumeOrderEvents": {
                "action": "receive",
                "title": "Each notifier replica hears every event",
                "channel": _ref("#/channels/orderEvents"),
                "messages": [_ref("#/channels/orderEvents/messages/orderEvent")],
                "bindings": {"amqp": ACK},
            },
            "publishTokenLaunched": {
                "action": "send",
                "title": "A launch is announced (POST /api/admin/launches, orders-admin, seeded schedule)",
                "channel": _ref("#/channels/marketLaunches"),
                "messages": [_ref("#/channels/marketLaunches/messages/tokenLaunched")],
                "bindings": {"amqp": PERSISTENT},
            },
            "consumeTokenLaunched": {
                "action": "receive",
                "title": "Each api replica learns the launched token",
                "channel": _ref("#/channels/marketLaunches"),
                "messages": [_ref("#/channels/marketLaunches/messages/tokenLaunched")],
                "bindings": {"amqp": {"ack": False, "bindingVersion": AMQP_BINDING}},
            },
        },
        "components": {
            "schemas": schemas(),
            "messages": {
                "Connected": _message(
                    "ws_connected", "Connected", "The first frame of every socket.", "Connected"
                ),
                "OrderEventFrame": _message(
                    "orderEvent",
                    "Order event",
                    "One step of an order; seq 1, 2, 3… with no gaps and no repeats.",
                    "OrderEventFrame",
                    examples=[
                        {"name": "building", "payload": EXAMPLE_EVENT},
                        {"name": "open again: a limit order missed its price", "payload": EXAMPLE_MISSED},
                        {"name": "cancelled (then close 1000)", "payload": EXAMPLE_CANCELLED},
                    ],
                ),
                "StreamError": _message("error", "Error", "A refusal.", "StreamError"),
                "Subscribe": _message(
                    "subscribe",
                    "Subscribe",
                    "Follow more orders on this socket, from afterSeq on.",
                    "Subscribe",
                    examples=[
                        {
                            "name": "two orders",
                            "payload": {
                                "action": "subscribe",
                                "orderIds": [
                                    EXAMPLE_EVENT["orderId"],
                                    "5f0c1d7e-2b1a-4c8e-9a51-0f6d2d3b9e10",
                                ],
                                "afterSeq": 0,
                            },
                        }
                    ],
                ),
                "ExecuteOrders": _message(
                    "ExecuteOrders",
                    "Execute new orders",
                    "Start the first attempt of each order; the worker acks once every one is done.",
                    "ExecuteOrders",
                    bindings={
                        "amqp": {"messageType": ExecuteOrders.MESSAGE_TYPE, "bindingVersion": AMQP_BINDING}
                    },
                ),
                "ExecuteOrder": _message(
                    "ExecuteOrder",
                    "Execute order",
                    "Run (or retry) an order; `attempt` is the attempt this message starts.",
                    "ExecuteOrder",
                    bindings={"amqp": {"messageType": "ExecuteOrder", "bindingVersion": AMQP_BINDING}},
                ),
                "OrderEvent": _message(
                    "OrderEvent",
                    "Order event",
                    "One committed step of an order, as stored in order_events.",
                    "OrderEvent",
                    bindings={"amqp": {"messageType": "OrderEvent", "bindingVersion": AMQP_BINDING}},
                ),
                "TokenLaunched": _message(
                    "TokenLaunched",
                    "Token launched",
                    "A new token and its pair's pool, open from opensAt; price is quote per token at open.",
                    "TokenLaunched",
                    bindings={"amqp": {"messageType": "TokenLaunched", "bindingVersion": AMQP_BINDING}},
                ),
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": (
                        "An API key as `Authorization: Bearer <key>` on the handshake; a browser, which "
                        "cannot set headers, offers the subprotocols `orders.v1, bearer.<key>` instead "
                        "(the notifier answers `orders.v1`). Not needed when AUTH_REQUIRED is false."
                    ),
                },
                "apiKeyHeader": {"type": "httpApiKey", "name": "X-API-Key", "in": "header"},
                "ticket": {
                    "type": "httpApiKey",
                    "name": "ticket",
                    "in": "query",
                    "description": "A short-lived, signed WebSocket ticket issued by the api.",
                },
            },
        },
    }


# --- A small YAML writer: block style, keys in the order given, strings quoted only when they must be.
# A plain (unquoted) scalar: starts with a letter, `_`, `/`, `$` or `(`, holds no `:`, quote, backslash or
# control character, no ` #` (a comment), does not end in a space, and does not read as a boolean or null.
_PLAIN = re.compile(r'^[A-Za-z_/$(][^:"\\\x00-\x1f\x7f]*$')
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED and not text.endswith(" ") and " #" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _lines(node: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            name = _scalar(key)
            if isinstance(value, dict | list) and value:
                lines.append(f"{pad}{name}:")
                lines.extend(_lines(value, indent + (2 if isinstance(value, dict) else 0)))
            elif isinstance(value, str) and "\n" in value and value == value.strip():
                lines.append(f"{pad}{name}: |-")
                lines.extend(f"{pad}  {line}" if line else "" for line in value.split("\n"))
            else:
                lines.append(
                    f"{pad}{name}: {_empty(value) if isinstance(value, dict | list) else _scalar(value)}"
                )
    else:
        for item in node:
            if isinstance(item, dict | list) and item:
                inner = _lines(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {_empty(item) if isinstance(item, dict | list) else _scalar(item)}")
    return lines


def _empty(value: dict[str, Any] | list[Any]) -> str:
    return "{}" if isinstance(value, dict) else "[]"


def to_yaml(node: Json) -> str:
    """The document as YAML text."""
    return "\n".join(_lines(node, 0)) + "\n"


def render() -> str:
    """What `python -m docs.asyncapi` prints."""
    header = "# Generated by `python -m docs.asyncapi > docs/asyncapi.yaml`; do not edit.\n"
    return header + to_yaml(document())


if __name__ == "__main__":
    sys.stdout.write(render())
