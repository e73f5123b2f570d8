"""API keys configured as SHA-256 digests (``name:sha256:<hex>:scopes``) next to plaintext ones."""

from __future__ import annotations

import hashlib

import pytest

from roost.core.auth import (
    Authenticator,
    InvalidApiKeyConfig,
    hashed_api_key_entry,
    parse_api_keys,
)
from roost.core.errors import ApiError
from roost.core.settings import load_settings

KEY = "a-key-the-environment-never-sees"


def test_hashed_entry_holds_the_digest_not_the_key() -> None:
    entry = hashed_api_key_entry("ci", KEY, ["read", "write"])
    assert KEY not in entry
    assert entry == f"ci:sha256:{hashlib.sha256(KEY.encode()).hexdigest()}:read write"


def test_hashed_and_plaintext_entries_give_the_same_key() -> None:
    [hashed] = parse_api_keys([hashed_api_key_entry("ci", KEY, ["read"])])
    [plain] = parse_api_keys([f"ci:{KEY}:read"])
    assert hashed == plain


def test_a_hashed_key_authenticates_with_its_scopes() -> None:
    settings = load_settings(
        environment="test", api_keys=[hashed_api_key_entry("ci", KEY, ["read", "write"])]
    )
    principal = Authenticator(settings).authenticate(None, KEY)
    assert principal is not None
    assert principal.subject == "api-key:ci"
    assert principal.scopes == {"read", "write"}


def test_the_digest_itself_is_no_key() -> None:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    settings = load_settings(environment="test", api_keys=[f"ci:sha256:{digest}:admin"])
    with pytest.raises(ApiError) as refused:
        Authenticator(settings).authenticate(None, digest)
    assert refused.value.status_code == 401


def test_uppercase_hex_digests_are_accepted() -> None:
    digest = hashlib.sha256(KEY.encode()).hexdigest().upper()
    [parsed] = parse_api_keys([f"ci:sha256:{digest}:read"])
    assert parsed == parse_api_keys([f"ci:{KEY}:read"])[0]


@pytest.mark.parametrize(
    "entry",
    [
        "ci:sha256:abc:read",  # too short
        "ci:sha256:" + "g" * 64 + ":read",  # not hex
        "ci:sha256:" + "a" * 64,  # no scopes separator
        "ci:sha256:" + "a" * 65 + ":read",  # too long
        ":sha256:" + "a" * 64 + ":read",  # no name
        "ci:short:read",  # a plaintext key under 16 characters
    ],
)
def test_malformed_entries_are_refused_at_startup(entry: str) -> None:
    with pytest.raises(InvalidApiKeyConfig):
        parse_api_keys([entry])
