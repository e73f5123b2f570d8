"""One mechanism turns a domain error into HTTP: the status, code, details and headers the
error class declares, in the one envelope, through the handler the app factory installs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from tests.support.fixture_types import ServeAsgi

from roost.core.app import create_app
from roost.core.errors import DomainError
from roost.core.settings import load_settings


class ShelfError(DomainError):
    code = "shelf_error"


class BookNotFound(ShelfError):
    code = "book_not_found"
    http_status = 404


class ShelfFull(ShelfError):
    code = "shelf_full"
    http_status = 409

    def __init__(self, message: str, *, free_at: int) -> None:
        super().__init__(message)
        self.free_at = free_at

    def details(self) -> Any:
        return {"free_at": self.free_at}

    def headers(self) -> Mapping[str, str]:
        return {"Retry-After": "30"}


router = APIRouter()


@router.get("/books/{name}")
async def get_book(name: str) -> None:
    if name == "full":
        raise ShelfFull("the shelf is full", free_at=7)
    if name == "base":
        raise ShelfError("something about the shelf")
    raise BookNotFound(f"no book {name!r}")


def build() -> Any:
    return create_app(role="test", settings=load_settings(), routers=[router])


async def test_domain_error_answers_its_declared_status_and_code(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.get("/books/dune", headers={"X-Request-ID": "req-1"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": {"code": "book_not_found", "message": "no book 'dune'", "request_id": "req-1"}
    }


async def test_domain_error_without_a_status_is_a_400(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.get("/books/base")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "shelf_error"


async def test_domain_error_details_and_headers_reach_the_response(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(build()) as client:
        response = await client.get("/books/full")
    assert response.status_code == 409
    assert response.headers["retry-after"] == "30"
    error = response.json()["error"]
    assert error["code"] == "shelf_full"
    assert error["details"] == {"free_at": 7}
