"""Baseline apps for the HTTP benchmarks: the floor (bare ASGI) and plain FastAPI."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

_BODY = b'{"key":"bench","value":"v"}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    """The cheapest possible ASGI answer: what the server alone costs."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})


def fastapi_hello() -> FastAPI:
    """Plain FastAPI, no middleware, same routes and body shape as the kv hot path."""
    app = FastAPI()

    @app.get("/read/{key}")
    async def read(key: str) -> dict[str, str]:
        return {"key": key, "value": "v"}

    @app.post("/write/{key}")
    async def write(key: str, value: str) -> dict[str, str]:
        return {"message": f"Key '{key}' set to '{value}'"}

    return app
