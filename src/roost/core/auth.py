"""Authentication (JWT bearer tokens and API keys) and scope checks.

- ``Authorization: Bearer <jwt>``: HS256 with ``ROOST_JWT_SECRET`` by default, RS256 with
  ``ROOST_JWT_PUBLIC_KEY``; ``exp``, ``iss`` and ``aud`` are required and checked. Scopes come
  from the ``scope`` claim (space-separated, OAuth style) or a ``scopes`` list.
- ``X-API-Key: <key>``: keys are configured in ``ROOST_API_KEYS`` as ``name:key:scope1 scope2``
  entries, or as ``name:sha256:<hex digest of the key>:scopes`` so that no plaintext key has
  to sit in the environment. Either way only the SHA-256 digest is kept in memory, and a
  presented key's digest is compared with every configured one in constant time.

The ``admin`` scope implies every other scope. Missing or invalid credentials are 401 with a
``WWW-Authenticate`` header; valid credentials without the scope are 403.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from fastapi import Request

from roost.core.errors import ApiError
from roost.core.openapi import answers
from roost.core.settings import Settings

ADMIN_SCOPE = "admin"
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    method: Literal["jwt", "api_key"]

    def has(self, scope: str) -> bool:
        return ADMIN_SCOPE in self.scopes or scope in self.scopes


@dataclass(frozen=True)
class _ApiKey:
    name: str
    digest: bytes
    scopes: frozenset[str]


class InvalidApiKeyConfig(ValueError):
    pass


HASHED_KEY_MARKER = "sha256"
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def parse_api_keys(entries: Iterable[str]) -> list[_ApiKey]:
    """``name:key:scopes`` or ``name:sha256:<64 hex digits>:scopes`` entries."""
    keys = []
    for entry in entries:
        parts = entry.split(":", 2)
        if len(parts) != 3 or not parts[0]:
            raise InvalidApiKeyConfig(
                "ROOST_API_KEYS entries must be name:key:scopes or name:sha256:<hex>:scopes"
            )
        name, key, scopes = parts
        if key == HASHED_KEY_MARKER:
            digest_hex, separator, scopes = scopes.partition(":")
            if not separator or not _SHA256_HEX.fullmatch(digest_hex):
                raise InvalidApiKeyConfig(
                    f"ROOST_API_KEYS entry {name!r}: name:sha256:<64 hex digits>:scopes"
                )
            digest = bytes.fromhex(digest_hex)
        elif len(key) < 16:
            raise InvalidApiKeyConfig(
                "ROOST_API_KEYS entries must be name:key:scopes with a key of 16+ characters"
            )
        else:
            digest = _digest(key)
        keys.append(_ApiKey(name, digest, frozenset(scopes.split())))
    return keys


def hashed_api_key_entry(name: str, key: str, scopes: Iterable[str]) -> str:
    """The ``ROOST_API_KEYS`` entry for ``key`` that holds only its SHA-256 digest."""
    return f"{name}:{HASHED_KEY_MARKER}:{_digest(key).hex()}:{' '.join(scopes)}"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self._api_keys = parse_api_keys(settings.api_keys)
        self._algorithm = settings.jwt_algorithm
        if self._algorithm == "RS256":
            if not settings.jwt_public_key:
                raise InvalidApiKeyConfig("ROOST_JWT_PUBLIC_KEY is required for RS256")
            self._verify_key: Any = settings.jwt_public_key
        else:
            self._verify_key = settings.jwt_secret.get_secret_value()
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal | None:
        """The caller's identity; None without credentials; ``ApiError`` 401 when invalid."""
        if api_key is not None:
            return self._from_api_key(api_key)
        if authorization is None:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization must be 'Bearer <token>'")
        return self._from_jwt(token.strip())

    def _from_api_key(self, api_key: str) -> Principal:
        digest = _digest(api_key)
        match = None
        for candidate in self._api_keys:  # no early exit: timing says nothing about position
            if hmac.compare_digest(candidate.digest, digest):
                match = candidate
        if match is None:
            raise _unauthorized("invalid API key")
        return Principal(f"api-key:{match.name}", match.scopes, "api_key")

    def _from_jwt(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._verify_key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("token has expired") from None
        except jwt.PyJWTError as error:
            raise _unauthorized(f"invalid token: {error}") from None
        return Principal(str(claims["sub"]), _scopes_of(claims), "jwt")


def _scopes_of(claims: dict[str, Any]) -> frozenset[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scopes = claims.get("scopes")
    if isinstance(scopes, list):
        return frozenset(str(s) for s in scopes)
    return frozenset()


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def issue_token(
    settings: Settings,
    subject: str,
    scopes: Iterable[str],
    *,
    ttl_seconds: int = 3600,
    private_key: str | None = None,
) -> str:
    """A signed token for ``subject`` (HS256 with the shared secret, RS256 with a private key)."""
    now = int(time.time())
    claims = {
        "sub": subject,
        "scope": " ".join(sorted(set(scopes))),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if settings.jwt_algorithm == "RS256":
        if private_key is None:
            raise ValueError("an RS256 token needs the private key")
        return jwt.encode(claims, private_key, algorithm="RS256")
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def current_principal(request: Request) -> Principal | None:
    """The authenticated caller, resolved once per request and cached on ``request.state``."""
    if hasattr(request.state, "principal"):
        principal: Principal | None = request.state.principal
        return principal
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.authenticate(
        request.headers.get("authorization"), request.headers.get("x-api-key")
    )
    request.state.principal = principal
    return principal


def require_scopes(*scopes: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller must be authenticated and hold every scope."""

    @answers(401, 403)
    async def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal is None:
            raise _unauthorized("authentication required: send a Bearer token or X-API-Key")
        missing = [scope for scope in scopes if not principal.has(scope)]
        if missing:
            raise ApiError(403, "forbidden", f"missing scope: {', '.join(missing)}")
        return principal

    return dependency
