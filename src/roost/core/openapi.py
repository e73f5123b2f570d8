"""Every error status a route can answer, documented once, with the one error envelope.

Three sources, merged by :func:`document_errors` when the app's schema is first built:

- the route's own ``responses=error_responses(404, 409, ...)`` for its domain errors;
- its dependencies: a dependency tagged with :func:`answers` (``require_scopes`` answers 401
  and 403, ``rate_limited`` 429) adds its statuses to every route that uses it;
- the HTTP server, before any route: 408, 414, 431 (``roost.core.server``);
- the app's middleware, which runs for every route: 503 (maintenance, a dependency down), 413
  for a body over the limit and 415 for a content-coded body on POST/PUT/PATCH, 400 for a JSON
  body that does not parse, and
  422 rendered as the envelope rather than FastAPI's ``HTTPValidationError``.

So that ``schemathesis run --checks all`` finds the schema and the server agreeing: what the
server answers is what the schema says, with the schema the errors really have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI, Path
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, JsonValue

ENVELOPE_SCHEMA_NAME = "ErrorEnvelope"
# The form of the ids this platform hands out (str(uuid.uuid4())); documented on id parameters
# whose route answers 400 for anything else.
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_STATUSES_ATTRIBUTE = "__roost_error_statuses__"
_BODY_METHODS = frozenset({"post", "put", "patch"})

DESCRIPTIONS: dict[int, str] = {
    400: "Bad request: malformed input (unparseable JSON, bad cursor, key or header format)",
    401: "Missing or invalid credentials",
    403: "Valid credentials without the required scope (or CSRF token)",
    404: "Not found",
    408: "The request head did not arrive in time (connection closed)",
    409: "Conflict with the current state",
    412: "Precondition failed (If-Match / If-None-Match)",
    413: "Request body over the size limit",
    414: "URL over the server's limit",
    415: "Unsupported media type",
    422: "Validation error: the request is well-formed but its values are not accepted",
    429: "Too many requests: see Retry-After",
    431: "Request headers over the server's limit",
    502: "Bad gateway: the upstream service answered with an error",
    503: "Service unavailable: maintenance or a dependency is down; see Retry-After",
    504: "Gateway timeout: the upstream service did not answer in time",
}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Stable, machine-readable error code")
    message: str = Field(description="What went wrong, for people")
    request_id: str | None = Field(description="The request's X-Request-ID, for support")
    details: JsonValue = Field(None, description="Extra structured data, when the error has it")


class ErrorEnvelope(BaseModel):
    """The body of every 4xx and 5xx answer."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


def documented_path(description: str | None, pattern: str, *, max_length: int | None = None) -> Any:
    """A path parameter whose ``pattern`` is documented, not enforced: the route's own code
    checks it and answers as the domain does (400, or 404 for a file), where FastAPI would
    answer 422."""
    return Path(
        max_length=max_length, description=description, json_schema_extra={"pattern": pattern}
    )


def uuid_path(description: str | None = None) -> Any:
    """A path parameter holding one of our ids (documented_path with the UUID form)."""
    return documented_path(description, UUID_PATTERN, max_length=64)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for the error statuses it answers itself."""
    return {status: _error_response(status) for status in statuses}


FILE_PART: dict[str, Any] = {"type": "string", "format": "binary"}


def multipart_upload(**text_fields: dict[str, Any]) -> dict[str, Any]:
    """The ``openapi_extra`` of a route reading a multipart body itself: a required ``file``
    part and the optional text fields named here; any other field is refused (400)."""
    schema = {
        "type": "object",
        "required": ["file"],
        "properties": {"file": FILE_PART, **text_fields},
        "additionalProperties": False,
    }
    content = {"multipart/form-data": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


Callee = TypeVar("Callee", bound=Callable[..., Any])


def answers(*statuses: int) -> Callable[[Callee], Callee]:
    """Tag a dependency with the error statuses it can answer; routes using it document them."""

    def tag(dependency: Callee) -> Callee:
        setattr(dependency, _STATUSES_ATTRIBUTE, frozenset(statuses))
        return dependency

    return tag


def document_errors(app: FastAPI) -> None:
    """Build the app's OpenAPI schema with the error statuses of every route (see module doc)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=None
            )
            _add_error_statuses(schema, app.routes)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_error_statuses(schema: dict[str, Any], routes: Iterable[Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(_envelope_components())
    from_dependencies = {
        (route.path_format, method.lower()): _dependency_statuses(route.dependant)
        for route in routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", ()):
                parameter["schema"] = _without_null(parameter.get("schema", {}))
            responses: dict[str, Any] = operation.setdefault("responses", {})
            statuses = set(from_dependencies.get((path, method), ()))
            # The server answers these before any route (roost.core.server), the app 503.
            statuses.update((408, 414, 431, 503))
            if method in _BODY_METHODS:
                statuses.update((413, 415))
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                statuses.add(400)
            if "422" in responses:
                statuses.add(422)
            for status in sorted(statuses):
                existing = responses.get(str(status), {})
                documented = _error_response(status)
                documented["description"] = existing.get("description", documented["description"])
                responses[str(status)] = _as_schema(documented)
    # FastAPI's own 422 shapes are never sent: the envelope replaces them.
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter's schema without ``null``: a header or a query string is text or
    absent, never JSON null (``str | None = None`` means "may be left out")."""
    variants = schema.get("anyOf")
    if not isinstance(variants, list):
        return schema
    kept = [variant for variant in variants if variant.get("type") != "null"]
    if len(kept) != 1:
        return schema
    merged = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**kept[0], **merged}


def _dependency_statuses(dependant: Dependant) -> Iterator[int]:
    for dependency in dependant.dependencies:
        yield from getattr(dependency.call, _STATUSES_ATTRIBUTE, ())
        yield from _dependency_statuses(dependency)


def _error_response(status: int) -> dict[str, Any]:
    return {"description": DESCRIPTIONS.get(status, "Error"), "model": ErrorEnvelope}


def _as_schema(response: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": response["description"],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ENVELOPE_SCHEMA_NAME}"}}
        },
    }


def _envelope_components() -> dict[str, Any]:
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = envelope.pop("$defs", {})
    return {ENVELOPE_SCHEMA_NAME: envelope, **definitions}
