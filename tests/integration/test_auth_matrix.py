"""Auth matrix: every admin or write route, every kind of credential.

Each protected route of thumbnails, birds and optimizer (with ``ROOST_OPTIMIZER_REQUIRE_AUTH``
on) answers 401 without credentials, 403 with valid ones lacking the scope, and its success
status with the right scope, given as a JWT, a plaintext API key or an API key configured only
by its SHA-256 digest. Forged and stale JWTs (``alg: none``, HS256 signed with the RS256 public
key, expired, not yet valid, wrong issuer or audience, wrong secret) are 401 on every kind of
protected route. The console's state-changing routes need a session (401) and its CSRF token
(403). Roles run in-process against the machine's real Postgres and Redis.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.support.parallel import free_port
from tests.support.served import prepared_database

from roost.core.auth import hashed_api_key_entry, issue_token
from roost.core.settings import CONSOLE_PEER_URL_SETTINGS, Settings, load_settings
from roost.roles import build_app

ADMIN_KEY = "matrix-admin-key-plaintext-0001"
HASHED_ADMIN_KEY = "matrix-admin-key-only-hashed-0002"
READER_KEY = "matrix-reader-key-plaintext-0003"
OPTIMIZE_KEY = "matrix-optimize-key-hashed-0004"
SECRET = "matrix-secret-0123456789abcdef0123456789"


@dataclass(frozen=True)
class Protected:
    """One protected route: what to send, the scope it needs, what success looks like."""

    role: str
    method: str
    path: str
    scope: str
    ok: frozenset[int]
    body: Any = None
    # The row's body is built per request (e.g. a unique name), from the test's unique token.
    body_for: Callable[[str], Any] | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.role} {self.method} {self.path}"


def _bird(unique: str) -> dict[str, str]:
    return {
        "name": f"Matrix Bird {unique}",
        "scientific_name": "Avis matricis",
        "description": "A bird made by the auth matrix test.",
        "region": "Nowhere",
        "slug": f"matrix-{unique}",
    }


def _model(unique: str) -> dict[str, Any]:
    curve = {"type": "hill", "params": {"vmax": 1000, "k": 100, "slope": 2.0}}
    return {"name": f"matrix-{unique}", "channels": [{"name": "tv", "curve": curve}]}


ABSENT_ID = str(uuid.UUID(int=1))
ROUTES = [
    Protected("thumbnails", "GET", "/api/v1/dead-letters", "admin", frozenset({200})),
    Protected("thumbnails", "POST", "/api/v1/dead-letters/redrive-all", "admin", frozenset({200})),
    # Found by id: with the scope, an unknown id is 404 (not 401/403).
    Protected(
        "thumbnails",
        "POST",
        f"/api/v1/dead-letters/{ABSENT_ID}/redrive",
        "admin",
        frozenset({404}),
    ),
    Protected("birds", "POST", "/api/v1/birds", "admin", frozenset({201}), body_for=_bird),
    Protected(
        "birds",
        "PUT",
        f"/api/v1/birds/{ABSENT_ID}",
        "admin",
        frozenset({404}),
        body_for=_bird,
    ),
    Protected("birds", "DELETE", f"/api/v1/birds/{ABSENT_ID}", "admin", frozenset({404})),
    Protected("optimizer", "POST", "/api/v1/models", "admin", frozenset({201}), body_for=_model),
    Protected(
        "optimizer",
        "PATCH",
        "/api/v1/models/demo/versions/1",
        "admin",
        frozenset({200}),
        body={"status": "active"},
    ),
    Protected("optimizer", "GET", "/api/v1/models", "optimize", frozenset({200})),
    Protected("optimizer", "GET", "/api/v1/models/demo", "optimize", frozenset({200})),
    Protected(
        "optimizer",
        "POST",
        "/api/v1/models/demo/predict",
        "optimize",
        frozenset({200}),
        body={"budget": {"tv": 1000}},
    ),
    Protected(
        "optimizer",
        "POST",
        "/api/v1/optimize",
        "optimize",
        frozenset({200, 202}),
        body={"budget": {"tv": 1000, "search": 500}, "constraints": {"total": 2000}},
    ),
    Protected("optimizer", "GET", f"/api/v1/results/{ABSENT_ID}", "optimize", frozenset({404})),
]


@pytest.fixture(scope="module")
def database(fresh_database_url: Callable[[str], str]) -> str:
    return prepared_database(fresh_database_url, "roost_authz")


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def settings_for(
    database: str, redis_url: str, unique: str, tmp_path: Path
) -> Callable[..., Settings]:
    dead = f"http://127.0.0.1:{free_port()}"

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": database,
            "redis_url": redis_url,
            "broker_url": redis_url,
            "broker_namespace": f"authz{unique}",
            "thumbnails_queue": f"authz-{unique}",
            "storage_url": (tmp_path / "objects").as_uri(),
            "jwt_secret": SECRET,
            "api_keys": [
                f"ops:{ADMIN_KEY}:admin",
                hashed_api_key_entry("vault", HASHED_ADMIN_KEY, ["admin"]),
                f"viewer:{READER_KEY}:read",
                hashed_api_key_entry("analyst", OPTIMIZE_KEY, ["optimize"]),
            ],
            "optimizer_require_auth": True,
            "optimizer_rate_per_second": 1000,
            "optimizer_rate_burst": 1000,
            **{name: dead for name in CONSOLE_PEER_URL_SETTINGS.values()},
            "log_level": "WARNING",
        }
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture
def role_client(serve_asgi: Any, settings_for: Callable[..., Settings]) -> Callable[..., Any]:
    @asynccontextmanager
    async def running(role: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with serve_asgi(build_app(role, settings_for(**overrides))) as client:
            yield client

    return running


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def credentials_with(scope: str, settings: Settings) -> dict[str, dict[str, str]]:
    """Every way to present a credential holding ``scope`` (admin implies every scope)."""
    ways = {"jwt": bearer(issue_token(settings, "matrix-user", [scope]))}
    if scope == "admin":
        ways["api_key"] = {"X-API-Key": ADMIN_KEY}
        ways["hashed_api_key"] = {"X-API-Key": HASHED_ADMIN_KEY}
    else:
        ways["hashed_api_key"] = {"X-API-Key": OPTIMIZE_KEY}
    return ways


def credentials_without(scope: str, settings: Settings) -> dict[str, dict[str, str]]:
    """Valid credentials that lack ``scope``."""
    other = "read" if scope != "read" else "write"
    return {
        "jwt": bearer(issue_token(settings, "matrix-user", [other])),
        "api_key": {"X-API-Key": READER_KEY},
        **({"hashed_api_key": {"X-API-Key": OPTIMIZE_KEY}} if scope == "admin" else {}),
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned_token(claims: dict[str, Any], header: dict[str, Any]) -> str:
    """A token with ``header`` and no signature (``alg: none``)."""
    return f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}."


def hmac_token(claims: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand: PyJWT refuses a PEM public key as an HMAC secret, an attacker doesn't."""
    signing_input = (
        f"{_b64(orjson.dumps({'alg': 'HS256', 'typ': 'JWT'}))}.{_b64(orjson.dumps(claims))}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def claims(scope: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": "attacker",
        "scope": scope,
        "iss": "roost",
        "aud": "roost",
        "iat": now,
        "exp": now + 600,
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def forged_tokens(scope: str) -> dict[str, str]:
    """Tokens for ``scope`` that the platform (HS256, SECRET, iss/aud roost) must refuse."""
    now = int(time.time())

    def sign(body: dict[str, Any], key: str = SECRET) -> str:
        return jwt.encode(body, key, algorithm="HS256")

    return {
        "alg_none": unsigned_token(claims(scope), {"alg": "none", "typ": "JWT"}),
        "alg_none_uppercase": unsigned_token(claims(scope), {"alg": "NONE", "typ": "JWT"}),
        "expired": sign(claims(scope, iat=now - 7200, exp=now - 3600)),
        "not_yet_valid": sign(claims(scope, nbf=now + 3600)),
        "issued_in_the_future": sign(claims(scope, iat=now + 3600)),
        "wrong_issuer": sign(claims(scope, iss="someone-else")),
        "wrong_audience": sign(claims(scope, aud="another-api")),
        "no_expiry": sign(claims(scope, exp=None)),
        "wrong_secret": sign(claims(scope), "not-the-secret-0123456789abcdefghij"),
        "truncated_signature": sign(claims(scope))[:-6],
        "garbage": "not.a.token",
    }


async def call(
    client: httpx.AsyncClient, route: Protected, headers: dict[str, str], unique: str
) -> httpx.Response:
    body = route.body_for(f"{unique}{uuid.uuid4().hex[:6]}") if route.body_for else route.body
    return await client.request(
        route.method, route.path, headers=headers, json=body if body is not None else None
    )


def assert_error(response: httpx.Response, status: int, why: str) -> None:
    assert response.status_code == status, f"{why}: {response.status_code} {response.text}"
    assert set(response.json()["error"]) >= {"code", "message", "request_id"}, why


@pytest.mark.parametrize("role", sorted({route.role for route in ROUTES}))
async def test_every_protected_route_answers_401_403_and_success(
    role: str, role_client: Callable[..., Any], settings_for: Callable[..., Settings], unique: str
) -> None:
    settings = settings_for()
    async with role_client(role) as client:
        for route in [route for route in ROUTES if route.role == role]:
            anonymous = await call(client, route, {}, unique)
            assert_error(anonymous, 401, f"{route} without credentials")
            assert anonymous.headers.get("www-authenticate") == "Bearer"

            for how, headers in credentials_without(route.scope, settings).items():
                assert_error(
                    await call(client, route, headers, unique), 403, f"{route}, {how} w/o scope"
                )

            for how, headers in credentials_with(route.scope, settings).items():
                response = await call(client, route, headers, unique)
                assert response.status_code in route.ok, (
                    f"{route} with a {how} holding {route.scope!r}: "
                    f"{response.status_code} {response.text}"
                )

            for how, token in forged_tokens(route.scope).items():
                assert_error(
                    await call(client, route, bearer(token), unique), 401, f"{route} {how}"
                )

            bad_key = {"X-API-Key": ADMIN_KEY[:-1] + "X"}
            assert_error(await call(client, route, bad_key, unique), 401, f"{route} bad API key")
            digest_as_key = {"X-API-Key": hashlib.sha256(HASHED_ADMIN_KEY.encode()).hexdigest()}
            assert_error(
                await call(client, route, digest_as_key, unique), 401, f"{route}: digest as key"
            )


async def test_rs256_refuses_hs256_tokens_signed_with_its_public_key(
    role_client: Callable[..., Any],
    settings_for: Callable[..., Settings],
    rsa_keys: tuple[str, str],
    unique: str,
) -> None:
    private_key, public_key = rsa_keys
    overrides = {"jwt_algorithm": "RS256", "jwt_public_key": public_key}
    settings = settings_for(**overrides)
    route = next(route for route in ROUTES if route.path == "/api/v1/dead-letters")
    genuine = issue_token(settings, "ops", ["admin"], private_key=private_key)
    confused = hmac_token(claims("admin"), public_key.encode())
    confused_stripped = hmac_token(claims("admin"), public_key.strip().encode())
    hs256_with_secret = jwt.encode(claims("admin"), SECRET, algorithm="HS256")
    async with role_client(route.role, **overrides) as client:
        ok = await call(client, route, bearer(genuine), unique)
        assert ok.status_code == 200, ok.text
        for how, token in {
            "hs256_with_public_key": confused,
            "hs256_with_stripped_public_key": confused_stripped,
            "hs256_with_shared_secret": hs256_with_secret,
            "alg_none": unsigned_token(claims("admin"), {"alg": "none"}),
        }.items():
            assert_error(await call(client, route, bearer(token), unique), 401, how)


async def test_console_state_changes_need_a_session_and_its_csrf_token(
    role_client: Callable[..., Any], settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for()
    changes = [
        ("PUT", "/api/maintenance", {"enabled": False}),
        ("POST", "/api/logout", None),
        ("POST", "/api/roles/kv/api/v1/kv/matrix", None),
    ]
    async with role_client("console") as client:
        for method, path, body in changes:
            assert_error(
                await client.request(method, path, json=body), 401, f"{method} {path} signed out"
            )
        reader = await client.post("/api/login", json={"credential": READER_KEY})
        assert_error(reader, 403, "a non-admin API key signs in")
        forged = forged_tokens("admin")["alg_none"]
        assert_error(
            await client.post("/api/login", json={"credential": forged}), 401, "alg none sign-in"
        )

        admin = issue_token(settings, "ops", ["admin"])
        signed_in = await client.post("/api/login", json={"credential": admin})
        assert signed_in.status_code == 200, signed_in.text
        csrf = signed_in.json()["csrf_token"]
        for method, path, body in changes[:1]:
            assert_error(
                await client.request(method, path, json=body), 403, f"{method} {path} no CSRF"
            )
            wrong = {"X-CSRF-Token": "0" * len(csrf)}
            assert_error(
                await client.request(method, path, json=body, headers=wrong),
                403,
                f"{method} {path} wrong CSRF",
            )
        right = {"X-CSRF-Token": csrf}
        switched = await client.put("/api/maintenance", json={"enabled": False}, headers=right)
        assert switched.status_code == 200, switched.text
