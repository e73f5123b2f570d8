"""HTTP routes of the operator console: its page, sign-in, the overview and the relay.

Thin: read the session, check the CSRF token, call :mod:`roost.console.service`, map its
errors. Every ``/api`` route but sign-in needs a session; every state-changing one needs the
session's CSRF token in ``X-CSRF-Token`` (403 without it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import FileResponse, RedirectResponse, Response

from roost.console import service
from roost.console.sampler import Sampler
from roost.console.session import (
    CSRF_HEADER,
    SESSION_COOKIE,
    OneTimeTokens,
    Operator,
    SessionInvalid,
    SessionSigner,
    require_admin,
)
from roost.core.auth import Authenticator
from roost.core.errors import ApiError
from roost.core.openapi import error_responses
from roost.core.ratelimit import RateLimit, rate_limited
from roost.core.responses import json_response
from roost.core.routing import route_per_method
from roost.core.upstream import UpstreamClient

STATIC_DIR = Path(__file__).parent / "static"
PAGE_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Request headers of the page's that a role needs to understand the call.
FORWARDED_HEADERS = ("content-type", "if-match", "if-none-match")
# Room for one image upload through the console (multipart framing on top of the file).
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@dataclass
class ConsoleDeps:
    sampler: Sampler
    clients: dict[str, UpstreamClient]
    signer: SessionSigner
    login_links: OneTimeTokens
    credential_for: Callable[[Operator], str]
    read_maintenance: Callable[[], Awaitable[bool]]
    write_maintenance: Callable[[bool], Awaitable[None]]
    secure_cookie: bool
    links: dict[str, str]  # pages the console links to (the full-screen bird page)


def _deps(request: Request) -> ConsoleDeps:
    deps: ConsoleDeps = request.app.state.console
    return deps


def _json(body: Any) -> Response:
    # What the console shows is live (sessions, health): never from a cache.
    return json_response(body, headers={"Cache-Control": "no-store"})


def signed_in(request: Request) -> Operator:
    """The operator of this request's session (401 without a valid one)."""
    try:
        return _deps(request).signer.verify(request.cookies.get(SESSION_COOKIE))
    except SessionInvalid as error:
        raise ApiError(401, "not_signed_in", str(error)) from None


def acting(request: Request) -> Operator:
    """The operator of a state-changing request: a session and its CSRF token (403)."""
    operator = signed_in(request)
    if request.method not in SAFE_METHODS and not _deps(request).signer.csrf_matches(
        operator, request.headers.get(CSRF_HEADER)
    ):
        raise ApiError(403, "csrf_token_invalid", f"send the session's CSRF token in {CSRF_HEADER}")
    return operator


def _with_session(deps: ConsoleDeps, cookie: str, response: Response) -> Response:
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=deps.signer.lifetime_seconds,
        httponly=True,
        samesite="strict",
        secure=deps.secure_cookie,
        path="/",
    )
    return response


def _session_body(deps: ConsoleDeps, operator: Operator) -> dict[str, Any]:
    return {
        "operator": operator.subject,
        "csrf_token": deps.signer.csrf_token(operator),
        "expires_at": operator.expires_at,
    }


router = APIRouter(tags=["console"])
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}, "text/javascript": {}, "text/css": {}}}
}
# Every /api route but sign-in and the session needs a session (401); a state-changing one also
# its CSRF token (403).
SIGNED_IN = error_responses(401)
ACTING = error_responses(401, 403)


@router.get("/", summary="The console page", response_class=Response, responses=PAGE_RESPONSES)
async def index() -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


def _file_route(name: str, media_type: str) -> None:
    async def serve() -> Response:
        return FileResponse(
            STATIC_DIR / name, media_type=media_type, headers={"Cache-Control": "no-cache"}
        )

    router.add_api_route(
        f"/{name}",
        serve,
        methods=["GET"],
        summary=f"The page's {name}",
        response_class=Response,
        responses=PAGE_RESPONSES,
    )


for _name, _type in PAGE_FILES.items():
    _file_route(_name, _type)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credential: str = Field(min_length=1, max_length=8192, description="An API key or a JWT")


def _principal_of(authenticator: Authenticator, credential: str) -> str:
    """The subject of an admin credential: a JWT (three dot-separated parts) or an API key."""
    token = credential.strip()
    if token.count(".") == 2:
        principal = authenticator.authenticate(f"Bearer {token}", None)
    else:
        principal = authenticator.authenticate(None, token)
    try:
        return require_admin(principal).subject
    except PermissionError as error:
        raise ApiError(403, "forbidden", str(error)) from None


# Guessing credentials through the sign-in form: a few tries per client address, then 429.
SIGN_IN_LIMIT = RateLimit("console-sign-in", rate_per_second=0.5, burst=10)
sign_in_limited = [Depends(rate_limited(SIGN_IN_LIMIT))]


@router.post(
    "/api/login",
    dependencies=sign_in_limited,
    summary="Sign in with an admin API key or JWT (sets the session cookie)",
    responses=error_responses(401, 403),
)
async def login(request: Request, body: LoginIn) -> Response:
    deps = _deps(request)
    subject = _principal_of(request.app.state.authenticator, body.credential)
    cookie = deps.signer.issue(subject)
    operator = deps.signer.verify(cookie)
    service.audit.info("console_sign_in", operator=subject, method="credential")
    return _with_session(deps, cookie, _json(_session_body(deps, operator)))


@router.get(
    "/login",
    dependencies=sign_in_limited,
    summary="Sign in with the one-time link `roost up` prints",
    response_class=Response,
    responses={303: {"description": "Signed in: to the page"}, **error_responses(401, 403)},
)
async def login_link(
    request: Request, token: Annotated[str, Query(min_length=1, max_length=8192)]
) -> Response:
    """The one-time link `roost up` prints: a short-lived admin JWT, accepted once."""
    deps = _deps(request)
    subject = _principal_of(request.app.state.authenticator, token)
    if not deps.login_links.claim(token):
        raise ApiError(401, "link_used", "this sign-in link was used already; ask for a new one")
    cookie = deps.signer.issue(subject)
    service.audit.info("console_sign_in", operator=subject, method="link")
    return _with_session(deps, cookie, RedirectResponse("/", status_code=303))


@router.post(
    "/api/logout", summary="Sign out", status_code=204, response_class=Response, responses=ACTING
)
async def logout(request: Request) -> Response:
    operator = acting(request)
    service.audit.info("console_sign_out", operator=operator.subject)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/api/session", summary="Who is signed in (200 either way)")
async def session(request: Request) -> Response:
    """The page's first call: who is signed in (200 either way, so a fresh page logs no error)."""
    deps = _deps(request)
    try:
        operator = deps.signer.verify(request.cookies.get(SESSION_COOKIE))
    except SessionInvalid as error:
        return _json({"operator": None, "reason": str(error)})
    return _json(_session_body(deps, operator))


@router.get("/api/overview", summary="Every role's health and recent traffic", responses=SIGNED_IN)
async def overview(request: Request) -> Response:
    signed_in(request)
    deps = _deps(request)
    return _json(await service.overview(deps.sampler, deps.read_maintenance, deps.links))


class MaintenanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


@router.put("/api/maintenance", summary="Turn maintenance mode on or off", responses=ACTING)
async def set_maintenance(request: Request, body: MaintenanceIn) -> Response:
    operator = acting(request)
    deps = _deps(request)
    await service.set_maintenance(deps.write_maintenance, operator, body.enabled)
    return _json({"enabled": body.enabled})


RELAY_METHODS = ["GET", "POST", "PUT", "DELETE"]


@route_per_method(
    router,
    "/api/roles/{role}/{path:path}",
    methods=RELAY_METHODS,
    summary="An offered action on a role, answered with the role's own status and body",
    response_class=Response,
    responses={
        200: {"description": "The role's answer", "content": {"*/*": {}}},
        **error_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 502, 504),
    },
)
async def relay(request: Request, role: str, path: str) -> Response:
    """An offered action on a role, answered with the role's own status and body."""
    operator = acting(request)
    deps = _deps(request)
    call = service.RoleCall(
        method=request.method,
        path=path,
        query=list(request.query_params.multi_items()),
        headers={h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers},
        body=await request.body(),
    )
    relayed = await service.relay(deps.clients, deps.credential_for, operator, role, call)
    return Response(relayed.content, status_code=relayed.status_code, headers=relayed.headers)
