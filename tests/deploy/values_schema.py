"""The Helm chart's values.schema.json, built from the settings classes: the settings' names, types and
bounds come from the pydantic models, so the chart cannot drift from what the services accept.

`test_values_schema_is_generated_from_the_settings` fails when the committed file differs; regenerate it:

    .venv/bin/python -m tests.deploy.values_schema > deploy/helm/order-engine/values.schema.json
"""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic_settings import BaseSettings

from orders_api.settings import ApiSettings
from orders_notifier.settings import NotifierSettings
from orders_shared.settings import CommonSettings
from orders_worker.settings import WorkerSettings

Schema = dict[str, Any]

# Delivered through the Secret, never the ConfigMaps.
SECRET_SETTINGS: Final = frozenset({"database_url", "amqp_url", "ws_ticket_secret"})
# What a settings field keeps of its JSON schema: the type and the bounds a wrong value would break.
_KEPT: Final = ("type", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern")

COMPONENT_SETTINGS: Final[dict[str, type[BaseSettings]]] = {
    "api": ApiSettings,
    "worker": WorkerSettings,
    "notifier": NotifierSettings,
}


def env_name(field: str) -> str:
    """The environment variable pydantic-settings reads for a field."""
    return field.upper()


def own_fields(settings: type[BaseSettings]) -> list[str]:
    """Fields a settings class adds to CommonSettings (all of them for CommonSettings itself)."""
    base = set() if settings is CommonSettings else set(CommonSettings.model_fields)
    return [name for name in settings.model_fields if name not in base]


def setting_schema(settings: type[BaseSettings], field: str) -> Schema:
    """JSON schema of one setting as a Helm value, from the model's own schema."""
    source: Schema = settings.model_json_schema()["properties"][field]
    schema: Schema = {key: source[key] for key in _KEPT if key in source}
    if "description" in source:
        schema["description"] = source["description"]
    return schema


def config_schema(settings: type[BaseSettings]) -> Schema:
    """The `config` object of a component: its own settings, every one required, nothing else."""
    names = [name for name in own_fields(settings) if name not in SECRET_SETTINGS]
    return _object(
        {env_name(name): setting_schema(settings, name) for name in names},
        required=[env_name(name) for name in names],
    )


def _object(properties: Schema, required: list[str] | None = None, closed: bool = True) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


def _map_of_strings(description: str | None = None) -> Schema:
    schema: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
    if description:
        schema["description"] = description
    return schema


_FREE_OBJECT: Final[Schema] = {"type": "object"}
_ARRAY_OF_OBJECTS: Final[Schema] = {"type": "array", "items": {"type": "object"}}
_BOOL: Final[Schema] = {"type": "boolean"}
_STRING: Final[Schema] = {"type": "string"}
_POSITIVE: Final[Schema] = {"type": "integer", "minimum": 1}
_PORT: Final[Schema] = {"type": "integer", "minimum": 1, "maximum": 65535}


def _image_override() -> Schema:
    return _object({"repository": _STRING, "tag": _STRING})


def _component(name: str, settings: type[BaseSettings]) -> Schema:
    properties: Schema = {
        "replicaCount": {"type": "integer", "minimum": 0},
        "config": config_schema(settings),
        "image": _image_override(),
        "service": _object(
            {"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]}, "port": _PORT},
            required=["type"],
        ),
        "resources": _object({"requests": _FREE_OBJECT, "limits": _FREE_OBJECT, "claims": _ARRAY_OF_OBJECTS}),
        "podDisruptionBudget": _object(
            {
                "enabled": _BOOL,
                "maxUnavailable": {
                    "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^[0-9]+%$"}]
                },
            },
            required=["enabled", "maxUnavailable"],
        ),
        "terminationGracePeriodSeconds": {
            **_POSITIVE,
            "description": "Must exceed config.SHUTDOWN_GRACE_S + preStopSleepSeconds (the chart checks).",
        },
        "serviceAccount": _object(
            {"create": _BOOL, "name": _STRING, "annotations": _map_of_strings()}, required=["create"]
        ),
        "podAnnotations": _map_of_strings(),
        "podLabels": _map_of_strings(),
        "extraEnv": {
            "type": "array",
            "items": {"type": "object", "required": ["name"], "properties": {"name": _STRING}},
        },
        "nodeSelector": _map_of_strings(),
        "tolerations": _ARRAY_OF_OBJECTS,
        "affinity": _FREE_OBJECT,
        "topologySpreadConstraints": _ARRAY_OF_OBJECTS,
        "priorityClassName": _STRING,
    }
    if name in ("api", "notifier"):
        properties["autoscaling"] = _object(
            {
                "enabled": _BOOL,
                "minReplicas": _POSITIVE,
                "maxReplicas": _POSITIVE,
                "targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1, "maximum": 100},
            },
            required=["enabled", "minReplicas", "maxReplicas", "targetCPUUtilizationPercentage"],
        )
    if name == "worker":
        properties["keda"] = _object(
            {
                "enabled": _BOOL,
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": _POSITIVE,
                "queueLength": {**_POSITIVE, "description": "Ready messages per worker KEDA aims for."},
                "pollingInterval": _POSITIVE,
                "cooldownPeriod": {"type": "integer", "minimum": 0},
            },
            required=["enabled", "minReplicaCount", "maxReplicaCount", "queueLength"],
        )
    return _object(
        properties,
        required=["replicaCount", "config", "service", "resources", "terminationGracePeriodSeconds"],
    )


def values_schema() -> Schema:
    """The whole values.schema.json."""
    common = config_schema(CommonSettings)
    secret_props = {
        "existingSecret": {
            "type": "string",
            "description": "A Secret with the keys DATABASE_URL and AMQP_URL; the chart then creates none.",
        },
        env_name("database_url"): {
            **setting_schema(CommonSettings, "database_url"),
            "pattern": "^(postgresql|postgres)://",
        },
        env_name("amqp_url"): setting_schema(CommonSettings, "amqp_url"),
        env_name("ws_ticket_secret"): {
            "type": "string",
            "description": "Signs WebSocket tickets; empty: derived from DATABASE_URL.",
        },
    }
    secret = _object(secret_props, required=["existingSecret"])
    # Without an existing Secret both URLs must be given.
    secret["if"] = {"properties": {"existingSecret": {"const": ""}}}
    secret["then"] = {
        "properties": {env_name("database_url"): {"minLength": 1}, env_name("amqp_url"): {"minLength": 1}},
        "required": [env_name("database_url"), env_name("amqp_url")],
    }
    properties: Schema = {
        "nameOverride": _STRING,
        "fullnameOverride": _STRING,
        "image": _object(
            {
                "repository": {"type": "string", "minLength": 1},
                "tag": _STRING,
                "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
            },
            required=["repository", "pullPolicy"],
        ),
        "imagePullSecrets": {
            "type": "array",
            "items": _object({"name": {"type": "string", "minLength": 1}}, required=["name"]),
        },
        "secret": secret,
        "config": common,
        "podSecurityContext": _FREE_OBJECT,
        "securityContext": _FREE_OBJECT,
        "preStopSleepSeconds": {"type": "integer", "minimum": 0, "maximum": 120},
        **{name: _component(name, settings) for name, settings in COMPONENT_SETTINGS.items()},
        "migrate": _object(
            {
                "enabled": _BOOL,
                "image": _image_override(),
                "backoffLimit": {"type": "integer", "minimum": 0},
                "activeDeadlineSeconds": _POSITIVE,
                "resources": _FREE_OBJECT,
                "podAnnotations": _map_of_strings(),
                "nodeSelector": _map_of_strings(),
                "tolerations": _ARRAY_OF_OBJECTS,
            },
            required=["enabled"],
        ),
        "ingress": _object(
            {
                "enabled": _BOOL,
                "className": _STRING,
                "host": {"type": "string", "minLength": 1},
                "annotations": _map_of_strings(),
                "websocketAnnotations": _map_of_strings(),
                "tls": {
                    "type": "array",
                    "items": _object({"secretName": _STRING, "hosts": {"type": "array", "items": _STRING}}),
                },
            },
            required=["enabled", "host"],
        ),
        "metrics": _object(
            {
                "serviceMonitor": _object(
                    {
                        "enabled": _BOOL,
                        "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                        "scrapeTimeout": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                        "labels": _map_of_strings(),
                    },
                    required=["enabled"],
                ),
                "prometheusRule": _object(
                    {"enabled": _BOOL, "labels": _map_of_strings()}, required=["enabled"]
                ),
                "dashboard": _object(
                    {"enabled": _BOOL, "labels": _map_of_strings(), "annotations": _map_of_strings()},
                    required=["enabled"],
                ),
            }
        ),
        "networkPolicy": _object(
            {
                "enabled": _BOOL,
                "ingressFrom": _ARRAY_OF_OBJECTS,
                "metricsFrom": _ARRAY_OF_OBJECTS,
                "egress": _object(
                    {"postgresPort": _PORT, "rabbitmqPort": _PORT, "to": _ARRAY_OF_OBJECTS},
                    required=["postgresPort", "rabbitmqPort"],
                ),
                "extraEgress": _ARRAY_OF_OBJECTS,
            },
            required=["enabled"],
        ),
    }
    schema: Schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "order-engine chart values",
        "description": "Generated by tests/deploy/values_schema.py from the services' settings classes.",
    }
    schema.update(_object(properties, required=["image", "secret", "config", "api", "worker", "notifier"]))
    return schema


def render() -> str:
    """values.schema.json's exact text."""
    return json.dumps(values_schema(), indent=2) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(render())
