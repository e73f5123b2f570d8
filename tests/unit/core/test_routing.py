"""DirectRoute answers exactly as FastAPI's own handler would, and refuses what it can't serve;
route_per_method gives each method of an endpoint its own route and OpenAPI operation id."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from pydantic import BaseModel
from starlette.responses import Response
from tests.support.fixture_types import ServeAsgi

from roost.core.app import create_app
from roost.core.errors import ApiError
from roost.core.routing import READ_METHODS, DirectRoute, route_per_method
from roost.core.settings import load_settings
from roost.roles import ROLE_BUILDERS, build_app


async def echo(
    request: Request,
    key: str,
    value: Annotated[str, Query(max_length=8)],
    note: Annotated[str | None, Query()] = None,
) -> Response:
    if key == "teapot":
        raise ApiError(418, "teapot", "short and stout")
    body = {"key": key, "value": value, "note": note, "path": request.url.path.split("/")[1]}
    return Response(orjson.dumps(body), media_type="application/json")


async def crash(request: Request) -> Response:
    raise RuntimeError("internals")


async def not_a_response(key: str) -> Any:
    return {"key": key}


def build() -> FastAPI:
    plain = APIRouter()
    direct = APIRouter(route_class=DirectRoute)
    for router, prefix in ((plain, "/plain"), (direct, "/direct")):
        router.add_api_route(f"{prefix}/echo/{{key}}", echo, methods=["POST"])
        router.add_api_route(f"{prefix}/crash", crash, methods=["GET"])
        router.add_api_route(f"{prefix}/dict/{{key}}", not_a_response, methods=["GET"])
    return create_app(role="test", settings=load_settings(), routers=[plain, direct])


REQUESTS = [
    ("POST", "/echo/abc?value=v"),
    ("POST", "/echo/a%20b%2Fc?value=%C3%A9t%C3%A9&note=n"),
    ("POST", "/echo/abc"),  # missing required query value
    ("POST", "/echo/abc?value=far-too-long"),
    ("POST", "/echo/abc?value=a&value=b"),  # repeated: FastAPI takes the last
    ("POST", "/echo/teapot?value=v"),  # a domain error through the app's handlers
    ("GET", "/echo/abc?value=v"),  # wrong method
    ("GET", "/crash"),
]


@pytest.mark.parametrize(("method", "path"), REQUESTS)
async def test_direct_route_answers_like_fastapi(
    serve_asgi: ServeAsgi, method: str, path: str
) -> None:
    async with serve_asgi(build()) as client:
        plain = await client.request(method, "/plain" + path)
        direct = await client.request(method, "/direct" + path)

    assert direct.status_code == plain.status_code
    assert direct.headers.get("content-type") == plain.headers.get("content-type")
    expected, got = plain.json(), direct.json()
    for body in (expected, got):
        if "error" in body:
            body["error"].pop("request_id")
        if "path" in body:
            body.pop("path")
    assert got == expected


async def test_direct_route_validation_errors_are_fastapis(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.post("/direct/echo/abc?value=far-too-long")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "value" in error["message"]


async def test_a_direct_endpoint_must_return_a_response(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.get("/direct/dict/abc")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"


async def test_direct_routes_are_in_the_openapi_schema_as_plain_ones(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        schema = (await client.get("/openapi.json")).json()

    def parameters(path: str) -> list[dict[str, Any]]:
        operation = schema["paths"][path]["post"]
        return sorted(operation["parameters"], key=lambda p: p["name"])

    assert parameters("/direct/echo/{key}") == parameters("/plain/echo/{key}")
    assert {p["name"] for p in parameters("/direct/echo/{key}")} == {"key", "value", "note"}


async def test_direct_routes_report_their_template_in_metrics(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        await client.post("/direct/echo/some-key?value=v")
        metrics = (await client.get("/metrics")).text
    assert 'path="/direct/echo/{key}"' in metrics
    assert "some-key" not in metrics


class Body(BaseModel):
    name: str


async def with_header(request: Request, x_token: Annotated[str, Header()]) -> Response:
    return Response()


async def with_body(body: Body) -> Response:
    return Response()


async def with_int_path(key: int) -> Response:
    return Response()


def needs_something() -> str:
    return "x"


async def with_dependency(thing: Annotated[str, Depends(needs_something)]) -> Response:
    return Response()


@pytest.mark.parametrize(
    ("path", "endpoint", "reason"),
    [
        ("/h", with_header, "header"),
        ("/b", with_body, "body"),
        ("/i/{key}", with_int_path, "path parameter 'key'"),
        ("/d", with_dependency, "dependency"),
    ],
)
def test_direct_route_refuses_endpoints_fastapi_must_solve(
    path: str, endpoint: Any, reason: str
) -> None:
    with pytest.raises(TypeError, match=reason):
        DirectRoute(path, endpoint, methods=["POST"])


async def read_only_page() -> Response:
    return Response(b"page", media_type="text/plain")


def build_read_only() -> FastAPI:
    router = APIRouter()
    route_per_method(router, "/page", methods=READ_METHODS, summary="A page")(read_only_page)
    return create_app(role="test", settings=load_settings(), routers=[router])


async def test_route_per_method_gives_each_method_its_own_operation_id(
    serve_asgi: ServeAsgi,
) -> None:
    async with serve_asgi(build_read_only()) as client:
        operations = (await client.get("/openapi.json")).json()["paths"]["/page"]
    assert set(operations) == {"get", "head"}
    assert operations["get"]["operationId"] != operations["head"]["operationId"]


async def test_route_per_method_serves_every_method_and_names_them_on_405(
    serve_asgi: ServeAsgi,
) -> None:
    async with serve_asgi(build_read_only()) as client:
        get = await client.get("/page")
        head = await client.head("/page")
        post = await client.post("/page")
    assert (get.status_code, get.content) == (200, b"page")
    assert (head.status_code, head.content) == (200, b"")
    assert post.status_code == 405
    assert post.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("role", sorted(ROLE_BUILDERS))
def test_every_operation_of_a_role_has_its_own_id(role: str) -> None:
    schema = build_app(role, load_settings(environment="test")).openapi()
    ids = [
        operation["operationId"]
        for operations in schema["paths"].values()
        for operation in operations.values()
    ]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
