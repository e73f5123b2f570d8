"""OpenTelemetry tracing: off unless ``ROOST_OTLP_ENDPOINT`` is set.

Instrumentation is only installed when there is somewhere to send spans: the FastAPI
instrumentation costs tens of microseconds per request, which is real money on the kv path.
"""

from __future__ import annotations

from fastapi import FastAPI

from roost.core.settings import Settings


def tracing_enabled(settings: Settings) -> bool:
    return settings.otlp_endpoint is not None


def setup_tracing(settings: Settings, role: str) -> None:
    """Install a tracer provider that exports spans over OTLP/HTTP."""
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

    RedisInstrumentor().instrument()


def instrument_app(app: FastAPI) -> None:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,health,metrics")
