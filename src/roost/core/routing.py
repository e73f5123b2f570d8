"""Route helpers: :class:`DirectRoute` for hot endpoints that have little for FastAPI to solve,
and :func:`route_per_method` for an endpoint that serves several methods.

FastAPI's generic request handler runs the dependency solver over every kind of input (path,
query, headers, cookies, body, dependencies), and opens two ``AsyncExitStack``s per request for
dependencies with ``yield``. For an endpoint whose inputs are the ``Request``, ``str`` path
parameters and query parameters, most of that has nothing to do, yet in the kv profile it was
the largest single cost of a request: more than the whole core's middleware, metrics and access
log together (docs/architecture.md, "Direct routes"). :class:`DirectRoute` calls such an
endpoint straight from the matched path; query parameters still go through FastAPI's own
``request_params_to_args``, so their validation and 422 errors are exactly FastAPI's.

It is still an ``APIRoute``: it is documented in OpenAPI from the endpoint's signature, matched
and reported (route template in metrics) like any other route, and its exceptions go to the
app's exception handlers. An endpoint it can't serve faithfully is refused when the route is
built, never at request time.

FastAPI gives a route one OpenAPI operation id for all its methods, so a ``GET``+``HEAD`` route
documents one id twice (a "Duplicate Operation ID" warning on every schema build, and colliding
names in a client generated from the schema). :func:`route_per_method` registers the endpoint
once per method instead: each gets its own id, and the 405 answer still names every method
(``roost.core.errors.allowed_methods`` collects them over the routes of a path).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter
from fastapi._compat import ModelField
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

DirectEndpoint = Callable[..., Awaitable[Response]]
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
# What a read-only resource serves: HEAD answers as GET does (the server sends no body).
READ_METHODS = ("GET", "HEAD")


def route_per_method(
    router: APIRouter, path: str, *, methods: Sequence[str], **route: Any
) -> Callable[[Endpoint], Endpoint]:
    """``router.api_route(path, methods=methods, **route)``, as one route per method so that
    each method has an OpenAPI operation id of its own (see the module doc)."""

    def register(endpoint: Endpoint) -> Endpoint:
        for method in methods:
            router.add_api_route(path, endpoint, methods=[method], **route)
        return endpoint

    return register


class DirectRoute(APIRoute):
    """An ``APIRoute`` that calls ``endpoint(request, **path_params, **query)`` directly."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        request_param = direct_request_param(self.dependant)
        self.app = _direct_app(endpoint, request_param, self.dependant.query_params)


def direct_request_param(dependant: Dependant) -> str | None:
    """The name the endpoint takes the request under; TypeError if FastAPI has work to do."""
    solved_inputs = {
        "header": dependant.header_params,
        "cookie": dependant.cookie_params,
        "body": dependant.body_params,
        "dependency": dependant.dependencies,
    }
    unsupported = [kind for kind, items in solved_inputs.items() if items]
    unsupported += [
        f"path parameter {field.name!r} of type {field.field_info.annotation!r}"
        for field in dependant.path_params
        if field.field_info.annotation is not str or field.alias != field.name
    ]
    special = (
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    unsupported += ["special parameter"] * sum(name is not None for name in special)
    if unsupported:
        raise TypeError(
            f"{dependant.call!r} needs FastAPI's request handler ({', '.join(unsupported)}); "
            "declare it on a plain APIRoute"
        )
    return dependant.request_param_name


def _direct_app(
    endpoint: DirectEndpoint, request_param: str | None, query_fields: list[ModelField]
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def respond(scope: Scope, receive: Receive, send: Send) -> None:
            arguments = dict(scope["path_params"])
            if query_fields:
                values, errors = request_params_to_args(query_fields, request.query_params)
                if errors:
                    raise RequestValidationError(errors)
                arguments.update(values)
            if request_param is not None:
                arguments[request_param] = request
            response = await endpoint(**arguments)
            if not isinstance(response, Response):
                raise TypeError(f"{endpoint!r} returned {type(response)!r}, not a Response")
            await response(scope, receive, send)

        # As FastAPI does: exceptions raised here reach the app's handlers with this request.
        await wrap_app_handling_exceptions(respond, request)(scope, receive, send)

    return app
