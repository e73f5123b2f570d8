"""Operator sessions: a signed cookie, a CSRF token bound to it, one-time login links.

The cookie is a JWT of its own audience (``roost-console``), so it is no API credential: a
role refuses it. It is signed with the platform's JWT secret, so any console replica accepts
what another issued, and carries no server-side state. The CSRF token is an HMAC of the
session's id: the page reads it once (same-origin only) and sends it as ``X-CSRF-Token`` on
every state-changing request; a cross-site form can neither read nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from roost.core.auth import ADMIN_SCOPE, Principal

SESSION_COOKIE = "roost_console"
CSRF_HEADER = "X-CSRF-Token"
SESSION_AUDIENCE = "roost-console"
ALGORITHM = "HS256"


class SessionInvalid(Exception):
    """No session, or one that is expired, tampered with or not ours."""


@dataclass(frozen=True)
class Operator:
    """Who is signed in to the console."""

    subject: str
    session_id: str
    expires_at: int


def require_admin(principal: Principal | None) -> Principal:
    """Only an admin may sign in: the console can do everything the roles allow."""
    if principal is None or not principal.has(ADMIN_SCOPE):
        raise PermissionError("the console needs an admin credential (scope 'admin')")
    return principal


class SessionSigner:
    def __init__(self, secret: str, issuer: str, lifetime_seconds: int) -> None:
        self._secret = secret
        self._issuer = issuer
        self.lifetime_seconds = lifetime_seconds

    def issue(self, subject: str, *, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "sub": subject,
            "sid": secrets.token_urlsafe(16),
            "iss": self._issuer,
            "aud": SESSION_AUDIENCE,
            "iat": issued,
            "exp": issued + self.lifetime_seconds,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, cookie: str | None) -> Operator:
        if not cookie:
            raise SessionInvalid("not signed in")
        try:
            claims = jwt.decode(
                cookie,
                self._secret,
                algorithms=[ALGORITHM],
                audience=SESSION_AUDIENCE,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "sid"], "verify_iat": False},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise SessionInvalid("the session has expired, sign in again") from None
        except jwt.PyJWTError:
            raise SessionInvalid("not signed in") from None
        return Operator(str(claims["sub"]), str(claims["sid"]), int(claims["exp"]))

    def csrf_token(self, operator: Operator) -> str:
        digest = hmac.new(
            self._secret.encode(), f"csrf:{operator.session_id}".encode(), hashlib.sha256
        )
        return digest.hexdigest()

    def csrf_matches(self, operator: Operator, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.csrf_token(operator), token)


class OneTimeTokens:
    """Login-link tokens already used, so that a link signs in once. In memory: the link is a
    `roost up` convenience with one console process; the tokens expire within minutes anyway."""

    def __init__(self, capacity: int = 1024) -> None:
        self._used: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def claim(self, token: str) -> bool:
        """True the first time ``token`` is presented, False after."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        if digest in self._used:
            return False
        self._used[digest] = None
        while len(self._used) > self._capacity:
            self._used.popitem(last=False)
        return True
