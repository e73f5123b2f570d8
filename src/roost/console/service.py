"""The console's use cases, over the roles' public HTTP APIs (never their stores).

- :func:`overview`: what the sampler last saw of every role and backend, and maintenance mode.
- :func:`relay`: one operator action on a role, if the console offers it (:data:`ACTIONS`),
  sent through the role's :class:`UpstreamClient` with the operator's identity (a short-lived
  token naming them) and written to the audit log.
- :func:`set_maintenance`: the platform-wide maintenance flag every role polls.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from roost.console.errors import ActionNotOffered, RoleUnavailable
from roost.console.sampler import Sampler
from roost.console.session import Operator
from roost.core.upstream import UpstreamClient, UpstreamUnavailable

audit = structlog.get_logger("roost.console.audit")

OPERATOR_HEADER = "X-Roost-Operator"
# Response headers worth passing back to the page; the rest describe the role's own transport.
PASSED_HEADERS = ("content-type", "etag", "location", "retry-after", "cache-control")


@dataclass(frozen=True)
class Action:
    name: str
    role: str
    method: str
    path: re.Pattern[str]

    def matches(self, role: str, method: str, path: str) -> bool:
        return self.role == role and self.method == method and self.path.fullmatch(path) is not None


def _action(name: str, role: str, method: str, path: str) -> Action:
    return Action(name, role, method, re.compile(path))


_ID = r"[A-Za-z0-9_.-]{1,64}"
_KEY = r"[^/]{1,512}"
# Everything the page may ask a role for: a closed list, so a session can reach no more of a
# role than these screens use.
ACTIONS: tuple[Action, ...] = (
    _action("kv.list", "kv", "GET", r"api/v1/kv"),
    _action("kv.read", "kv", "GET", rf"api/v1/kv/{_KEY}"),
    _action("kv.set", "kv", "PUT", rf"api/v1/kv/{_KEY}"),
    _action("kv.delete", "kv", "DELETE", rf"api/v1/kv/{_KEY}"),
    _action("thumbnails.list", "thumbnails", "GET", r"api/v1/images"),
    _action("thumbnails.read", "thumbnails", "GET", rf"api/v1/images/{_ID}"),
    _action("thumbnails.image", "thumbnails", "GET", rf"api/v1/images/{_ID}/thumbnails/{_ID}"),
    _action("thumbnails.upload", "thumbnails", "POST", r"api/v1/images"),
    _action("thumbnails.dead_letters", "thumbnails", "GET", r"api/v1/dead-letters"),
    _action("thumbnails.redrive_all", "thumbnails", "POST", r"api/v1/dead-letters/redrive-all"),
    _action("thumbnails.redrive", "thumbnails", "POST", rf"api/v1/dead-letters/{_ID}/redrive"),
    _action("birds.list", "birds", "GET", r"api/v1/birds"),
    _action("birds.read", "birds", "GET", rf"api/v1/birds/{_ID}"),
    _action("birds.placeholder", "birds", "GET", rf"api/v1/birds/{_ID}/placeholder\.svg"),
    _action("birds.edit", "birds", "PUT", rf"api/v1/birds/{_ID}"),
    _action("birds.photo", "birds", "POST", rf"api/v1/birds/{_ID}/photo"),
    _action("bird_images.picture", "bird-images", "GET", rf"api/v1/images/{_ID}"),
    _action("bird_images.media", "bird-images", "GET", rf"media/{_ID}(/{_ID}){{0,2}}"),
    _action("optimizer.models", "optimizer", "GET", r"api/v1/models"),
    _action("optimizer.versions", "optimizer", "GET", rf"api/v1/models/{_ID}"),
    _action("optimizer.version", "optimizer", "GET", rf"api/v1/models/{_ID}/versions/\d{{1,9}}"),
    _action("optimizer.run", "optimizer", "POST", r"api/v1/optimize"),
    _action("optimizer.results", "optimizer", "GET", r"api/v1/results"),
    _action("optimizer.result", "optimizer", "GET", rf"api/v1/results/{_ID}"),
    _action("optimizer.curves", "optimizer", "GET", rf"api/v1/optimize/{_ID}/curves\.svg"),
)


def find_action(role: str, method: str, path: str) -> Action:
    if any(segment in (".", "..") for segment in path.split("/")):
        raise ActionNotOffered("a path with '.' or '..' segments reaches no action")
    for action in ACTIONS:
        if action.matches(role, method, path):
            return action
    raise ActionNotOffered(f"the console offers no {method} {path} on {role}")


@dataclass(frozen=True)
class Relayed:
    status_code: int
    content: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class RoleCall:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # the page's headers the role needs (content type, preconditions)
    body: bytes


async def relay(
    clients: dict[str, UpstreamClient],
    credential_for: Callable[[Operator], str],
    operator: Operator,
    role: str,
    call: RoleCall,
) -> Relayed:
    """Send one offered action to ``role`` as ``operator``; what the role answered."""
    action = find_action(role, call.method, call.path)
    client = clients.get(role)
    if client is None:
        raise ActionNotOffered(f"the console is not connected to {role}")
    headers = dict(call.headers)
    headers["Authorization"] = f"Bearer {credential_for(operator)}"
    headers[OPERATOR_HEADER] = operator.subject
    started = time.perf_counter()
    try:
        response = await client.send(
            call.method,
            "/" + quote(call.path, safe="/"),
            params=call.query,
            headers=headers,
            content=call.body or None,
        )
    except UpstreamUnavailable as error:
        _audit(action, operator, call, status=None, started=started, error=error.reason)
        raise RoleUnavailable(role, error.reason) from None
    _audit(action, operator, call, status=response.status_code, started=started)
    return Relayed(response.status_code, response.content, _passed_headers(response))


def _passed_headers(response: httpx.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in PASSED_HEADERS if name in response.headers}


def _audit(
    action: Action,
    operator: Operator,
    call: RoleCall,
    *,
    status: int | None,
    started: float,
    error: str | None = None,
) -> None:
    """One line per action that changes something (reads are the access log's business)."""
    if call.method == "GET":
        return
    audit.info(
        "console_action",
        action=action.name,
        operator=operator.subject,
        role=action.role,
        method=call.method,
        path="/" + call.path,
        status=status,
        error=error,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


async def overview(
    sampler: Sampler, maintenance: Callable[[], Awaitable[bool]], links: dict[str, str]
) -> dict[str, Any]:
    try:
        maintenance_on: bool | None = await maintenance()
    except Exception:  # the flag's store is down: unknown, and the rest still shows
        maintenance_on = None
    return {
        "roles": sampler.roles_view(),
        "backends": sampler.backends_view(),
        "maintenance": maintenance_on,
        "sample_seconds": sampler.every_seconds,
        "links": links,
        "now": time.time(),
    }


async def set_maintenance(
    write: Callable[[bool], Awaitable[None]], operator: Operator, enabled: bool
) -> None:
    started = time.perf_counter()
    await write(enabled)
    audit.info(
        "console_action",
        action="maintenance.on" if enabled else "maintenance.off",
        operator=operator.subject,
        role="platform",
        status=200,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
