"""JSON log lines via structlog: one line per event, request id and trace id attached.

The processor chain is kept short on purpose: the access log runs on every request and its cost
shows up directly in the kv benchmark.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

from roost.core.context import request_id_var

_SECRET_FIELDS = frozenset(
    {"password", "secret", "token", "authorization", "api_key", "x-api-key", "cookie", "value"}
)


def _add_request_context(_: Any, __: str, event: MutableMapping[str, Any]) -> Any:
    request_id = request_id_var.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def _add_trace_id(_: Any, __: str, event: MutableMapping[str, Any]) -> Any:
    from opentelemetry import trace

    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event["trace_id"] = format(span_context.trace_id, "032x")
        event["span_id"] = format(span_context.span_id, "016x")
    return event


def _redact_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> Any:
    for key in _SECRET_FIELDS.intersection(event):
        event[key] = "[redacted]"
    return event


def _orjson_dumps(event: Any, **_: Any) -> bytes:
    return orjson.dumps(event, default=str)


def configure_logging(level: str = "INFO", *, json: bool = True, tracing: bool = False) -> None:
    """Configure structlog and route stdlib logging (uvicorn, alembic, dramatiq) through it."""
    shared: list[Any] = [
        _add_request_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]
    if tracing:
        shared.append(_add_trace_id)
    shared += [_redact_secrets, structlog.processors.format_exc_info]
    renderer: Any
    if json:
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        logger_factory: Any = structlog.BytesLoggerFactory(sys.stdout.buffer)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        logger_factory = structlog.PrintLoggerFactory(sys.stdout)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=logger_factory,
        cache_logger_on_first_use=True,
    )
    _route_stdlib_logging(level, shared, json)


def _route_stdlib_logging(level: str, shared: list[Any], json: bool) -> None:
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(
                serializer=lambda e, **_: orjson.dumps(e, default=str).decode()
            )
            if json
            else structlog.dev.ConsoleRenderer(colors=False),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware writes the access log; uvicorn's would double every line.
    logging.getLogger("uvicorn.access").disabled = True
