"""JWT and API-key authentication, scopes, and the 401/403 split."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, FastAPI
from tests.support.fixture_types import ServeAsgi

from roost.core.app import RoleRuntime, create_app
from roost.core.auth import (
    Authenticator,
    InvalidApiKeyConfig,
    Principal,
    issue_token,
    require_scopes,
)
from roost.core.errors import ApiError
from roost.core.settings import Settings, load_settings

SECRET = "s" * 40
API_KEY = "k" * 24


def settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "jwt_secret": SECRET,
        "api_keys": f"ci:{API_KEY}:read write,ops:{'o' * 20}:admin",
    }
    base.update(overrides)
    return load_settings(**base)


def test_issued_token_round_trips_with_scopes() -> None:
    s = settings()
    token = issue_token(s, "alice", ["read", "write"])
    principal = Authenticator(s).authenticate(f"Bearer {token}", None)
    assert principal == Principal("alice", frozenset({"read", "write"}), "jwt")


def test_no_credentials_is_anonymous() -> None:
    assert Authenticator(settings()).authenticate(None, None) is None


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "evil"}, "issuer"),
    ],
)
def test_bad_claims_are_401(claims: dict[str, object], message: str) -> None:
    base = {"sub": "a", "iss": "roost", "aud": "roost", "exp": int(time.time()) + 60}
    token = jwt.encode({**base, **claims}, SECRET, algorithm="HS256")
    with pytest.raises(ApiError) as raised:
        Authenticator(settings()).authenticate(f"Bearer {token}", None)
    assert raised.value.status_code == 401
    assert message in raised.value.message.lower()


def test_token_signed_with_another_secret_is_401() -> None:
    token = issue_token(settings(jwt_secret="x" * 40), "mallory", ["admin"])
    with pytest.raises(ApiError, match="invalid token"):
        Authenticator(settings()).authenticate(f"Bearer {token}", None)


def test_alg_none_is_refused() -> None:
    token = jwt.encode(
        {"sub": "a", "iss": "roost", "aud": "roost", "exp": 9e9},
        None,  # type: ignore[arg-type]  # alg "none" takes no key; PyJWT's hints leave None out
        algorithm="none",
    )
    with pytest.raises(ApiError):
        Authenticator(settings()).authenticate(f"Bearer {token}", None)


def test_malformed_authorization_header_is_401() -> None:
    with pytest.raises(ApiError, match="Bearer"):
        Authenticator(settings()).authenticate("Basic dXNlcjpwYXNz", None)


def test_rs256_tokens_verify_with_the_public_key() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    s = settings(jwt_algorithm="RS256", jwt_public_key=public_pem)
    token = issue_token(s, "svc", ["read"], private_key=private_pem)
    assert Authenticator(s).authenticate(f"Bearer {token}", None).subject == "svc"  # type: ignore[union-attr]
    hs_token = issue_token(settings(), "svc", ["admin"])
    with pytest.raises(ApiError):  # an HS256 token must not pass an RS256 verifier
        Authenticator(s).authenticate(f"Bearer {hs_token}", None)


def test_api_keys_resolve_to_their_scopes() -> None:
    principal = Authenticator(settings()).authenticate(None, API_KEY)
    assert principal == Principal("api-key:ci", frozenset({"read", "write"}), "api_key")
    with pytest.raises(ApiError, match="invalid API key"):
        Authenticator(settings()).authenticate(None, "wrong-key-wrong-key")


def test_weak_api_key_config_is_refused() -> None:
    with pytest.raises(InvalidApiKeyConfig):
        Authenticator(settings(api_keys="ci:short:read"))


def test_admin_implies_every_scope() -> None:
    assert Principal("x", frozenset({"admin"}), "jwt").has("anything")
    assert not Principal("x", frozenset({"read"}), "jwt").has("write")


def protected_app() -> FastAPI:
    router = APIRouter()

    @router.get("/admin")
    async def admin(principal: Principal = Depends(require_scopes("admin"))) -> dict[str, str]:
        return {"subject": principal.subject}

    @router.get("/write")
    async def write(principal: Principal = Depends(require_scopes("write"))) -> dict[str, str]:
        return {"subject": principal.subject}

    async def setup(app: FastAPI, s: Settings, stack: AsyncExitStack) -> RoleRuntime:
        return RoleRuntime()

    return create_app(role="test", settings=settings(), routers=[router], setup=setup)


async def test_routes_answer_401_403_and_200(serve_asgi: ServeAsgi) -> None:
    async with serve_asgi(protected_app()) as client:
        anonymous = await client.get("/admin")
        garbage = await client.get("/admin", headers={"Authorization": "Bearer not.a.jwt"})
        wrong_scope = await client.get("/admin", headers={"X-API-Key": API_KEY})
        allowed = await client.get("/write", headers={"X-API-Key": API_KEY})
        token = issue_token(settings(), "root", ["admin"])
        admin = await client.get("/admin", headers={"Authorization": f"Bearer {token}"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert garbage.status_code == 401
    assert wrong_scope.status_code == 403
    assert wrong_scope.json()["error"]["code"] == "forbidden"
    assert allowed.json() == {"subject": "api-key:ci"}
    assert admin.json() == {"subject": "root"}
