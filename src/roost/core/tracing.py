"""OpenTelemetry tracing: off unless ``ROOST_OTLP_ENDPOINT`` is set.

HTTP spans come from FastAPI's native telemetry (switched on in ``create_app`` only when this
is enabled: even no-op spans cost per request, real money on the kv path); Redis and
SQLAlchemy spans from their instrumentations.
"""

from __future__ import annotations

from collections.abc import Callable

from roost.core.settings import Settings


def tracing_enabled(settings: Settings) -> bool:
    return settings.otlp_endpoint is not None


def setup_tracing(settings: Settings, role: str) -> Callable[[], None]:
    """Install a tracer provider that exports spans over OTLP/HTTP; returns its shutdown.

    Call the shutdown from the app's lifespan: uvicorn re-raises SIGTERM after a graceful
    stop, so atexit hooks (where the SDK would otherwise flush) never run.
    """
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    endpoint = str(settings.otlp_endpoint).rstrip("/") + "/v1/traces"
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"{settings.service_name}-{role}"})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)

    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # Global instrumentation covers every client and engine created from here on.
    RedisInstrumentor().instrument()
    SQLAlchemyInstrumentor().instrument()
    return provider.shutdown
