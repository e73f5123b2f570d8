"""Console sessions: signed cookies, CSRF tokens bound to a session, one-time links."""

from __future__ import annotations

import time

import pytest

from roost.console.errors import ActionNotOffered
from roost.console.service import ACTIONS, find_action
from roost.console.session import (
    OneTimeTokens,
    SessionInvalid,
    SessionSigner,
    require_admin,
)
from roost.core.auth import Principal
from roost.core.settings import CONSOLE_PEER_URL_SETTINGS, ROLE_PORTS, Settings

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def signer(lifetime: int = 3600, secret: str = SECRET) -> SessionSigner:
    return SessionSigner(secret, "roost", lifetime)


def test_a_session_cookie_names_its_operator() -> None:
    cookie = signer().issue("api-key:ops")

    operator = signer().verify(cookie)

    assert operator.subject == "api-key:ops"
    assert operator.expires_at > time.time()


def test_an_expired_session_is_refused() -> None:
    cookie = signer(lifetime=60).issue("ops", now=time.time() - 120)

    with pytest.raises(SessionInvalid, match="expired"):
        signer().verify(cookie)


@pytest.mark.parametrize("cookie", [None, "", "not-a-jwt", "a.b.c"])
def test_a_missing_or_malformed_cookie_is_refused(cookie: str | None) -> None:
    with pytest.raises(SessionInvalid):
        signer().verify(cookie)


def test_a_cookie_signed_with_another_secret_is_refused() -> None:
    forged = signer(secret="another-secret-that-is-long-enough-too").issue("ops")

    with pytest.raises(SessionInvalid):
        signer().verify(forged)


def test_an_api_token_is_no_session() -> None:
    from roost.core.auth import issue_token

    settings = Settings(jwt_secret=SECRET)
    token = issue_token(settings, "ops", ["admin"])

    with pytest.raises(SessionInvalid):  # other audience: a role's token is not a console login
        signer().verify(token)


def test_the_csrf_token_belongs_to_one_session() -> None:
    first = signer().verify(signer().issue("ops"))
    second = signer().verify(signer().issue("ops"))

    token = signer().csrf_token(first)

    assert signer().csrf_matches(first, token)
    assert not signer().csrf_matches(second, token)
    assert not signer().csrf_matches(first, None)
    assert not signer().csrf_matches(first, "")


def test_a_login_link_token_is_accepted_once() -> None:
    used = OneTimeTokens(capacity=2)

    assert used.claim("token-a")
    assert not used.claim("token-a")
    assert used.claim("token-b")


def test_only_an_admin_may_sign_in() -> None:
    reader = Principal("api-key:reader", frozenset({"optimize"}), "api_key")
    admin = Principal("api-key:ops", frozenset({"admin"}), "api_key")

    assert require_admin(admin) is admin
    with pytest.raises(PermissionError):
        require_admin(reader)
    with pytest.raises(PermissionError):
        require_admin(None)


@pytest.mark.parametrize(
    ("role", "method", "path", "action"),
    [
        ("kv", "PUT", "api/v1/kv/greeting", "kv.set"),
        ("kv", "GET", "api/v1/kv", "kv.list"),
        ("thumbnails", "POST", "api/v1/images", "thumbnails.upload"),
        ("optimizer", "POST", "api/v1/optimize", "optimizer.run"),
        ("optimizer", "GET", "api/v1/results", "optimizer.results"),
        (
            "optimizer",
            "GET",
            "api/v1/results/0b6c1a7e-4f1e-4c55-9f0e-3d2b1a0c9e8d",
            "optimizer.result",
        ),
        ("bird-images", "GET", "media/photos/abc/300", "bird_images.media"),
    ],
)
def test_offered_actions_are_found_by_role_method_and_path(
    role: str, method: str, path: str, action: str
) -> None:
    assert find_action(role, method, path).name == action


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("kv", "POST", "write/anything"),  # the classic API is not offered
        ("kv", "GET", "api/v1/kv/a/../../metrics"),
        ("kv", "GET", ".."),
        ("optimizer", "POST", "api/v1/models"),  # registering models is not a console action
        ("thumbnails", "DELETE", "api/v1/images/x"),
        ("optimizer", "DELETE", "api/v1/results"),  # the history is read-only here
        ("nowhere", "GET", "api/v1/kv"),
    ],
)
def test_anything_else_is_not_offered(role: str, method: str, path: str) -> None:
    with pytest.raises(ActionNotOffered):
        find_action(role, method, path)


def test_every_action_targets_a_role_the_console_knows() -> None:
    assert {action.role for action in ACTIONS} <= set(CONSOLE_PEER_URL_SETTINGS)
    assert set(CONSOLE_PEER_URL_SETTINGS) == set(ROLE_PORTS) - {"console"}
    assert set(CONSOLE_PEER_URL_SETTINGS.values()) <= set(Settings.model_fields)
