"""structlog set up once, in each service's main: JSON lines with bound context."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import orjson
import structlog

# Tracebacks as data, without local variables: locals hold request headers, and so API keys.
_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


def _json_bytes(event: Any, **_: Any) -> bytes:
    # orjson refuses integers beyond 64 bits and types it does not know; the standard module takes them.
    try:
        return orjson.dumps(event, default=str)
    except TypeError:
        return json.dumps(event, default=str).encode()


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Configure structlog and the stdlib loggers (uvicorn, aio-pika, alembic) to the same output."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # JSON lines from our own loggers go straight to stderr as bytes: through the stdlib's logging (a
    # LogRecord, the handler's lock, a formatter, json.dumps) a line cost the worker ~7% of its CPU per
    # order. The console format, for people, keeps the stdlib path.
    fast = fmt == "json"
    structlog.configure(
        processors=[
            *shared,
            _TRACEBACKS,
            structlog.processors.JSONRenderer(serializer=_json_bytes)
            if fast
            else structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.BytesLoggerFactory(sys.stderr.buffer)
        if fast
        else structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _TRACEBACKS,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access logs of every health probe and metrics scrape drown out the events that matter.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("aiormq").setLevel(logging.WARNING)
    # aiormq logs each failed connect before raising it; orders_shared.reach reports it, classified.
    logging.getLogger("aiormq.connection").setLevel(logging.CRITICAL)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)


def get_logger(**initial: Any) -> structlog.typing.FilteringBoundLogger:
    """A bound structlog logger."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(**initial)
    return logger
