"""``roost smoke``'s pure parts: credentials, which checks run for a role with and without
them, the one line for a role that requires auth, and the optimize request it builds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from typer.testing import CliRunner

from roost.cli import app
from roost.smoke import (
    CLASSIC_SPEND,
    ROLE_CHECKS,
    Check,
    Credentials,
    SmokeFailure,
    Spend,
    assert_spends_total,
    plan_checks,
    shared_checks,
    spend_for_first_active,
)

AUTH_LINE = (
    "optimizer requires auth: pass --api-key or --token (ROOST_SMOKE_API_KEY / ROOST_SMOKE_TOKEN)"
)


def names(checks: Iterable[Check]) -> set[str]:
    return {check.name for check in checks}


def test_api_key_is_sent_as_x_api_key() -> None:
    assert Credentials(api_key="k" * 20).headers() == {"X-API-Key": "k" * 20}


def test_token_is_sent_as_bearer() -> None:
    assert Credentials(token="a.b.c").headers() == {"Authorization": "Bearer a.b.c"}


def test_empty_values_are_no_credentials() -> None:
    # An unset CI secret arrives as an empty environment variable.
    credentials = Credentials(api_key="", token="")
    assert not credentials.given
    assert credentials.headers() == {}


def test_api_key_and_token_together_are_refused() -> None:
    with pytest.raises(ValueError, match="either --api-key or --token"):
        Credentials(api_key="k" * 20, token="a.b.c")


def test_cli_refuses_both_credentials_before_any_request() -> None:
    result = CliRunner().invoke(
        app, ["smoke", "http://127.0.0.1:9", "--api-key", "k" * 20, "--token", "a.b.c"]
    )
    assert result.exit_code == 2
    assert "either --api-key or --token" in result.output


def test_role_that_requires_auth_fails_with_one_line_without_credentials() -> None:
    plan = plan_checks("optimizer", has_credentials=False, auth_required=True)
    assert plan.refusal == AUTH_LINE
    assert names(plan.checks) == names(shared_checks()), "only the shared checks still run"


def test_role_that_requires_auth_runs_every_check_with_credentials() -> None:
    plan = plan_checks("optimizer", has_credentials=True, auth_required=False)
    assert plan.refusal is None
    assert names(ROLE_CHECKS["optimizer"]()) <= names(plan.checks)


@pytest.mark.parametrize("role", ["thumbnails", "birds"])
def test_admin_checks_are_skipped_without_credentials(role: str) -> None:
    plan = plan_checks(role, has_credentials=False, auth_required=False)
    admin = {check.name for check in ROLE_CHECKS[role]() if check.authenticated}
    assert admin, f"{role} has an authenticated check"
    assert plan.refusal is None
    assert not admin & names(plan.checks)
    assert names(plan.skipped) == admin


@pytest.mark.parametrize("role", ["thumbnails", "birds"])
def test_admin_checks_run_with_credentials(role: str) -> None:
    plan = plan_checks(role, has_credentials=True, auth_required=False)
    assert names(ROLE_CHECKS[role]()) <= names(plan.checks)
    assert plan.skipped == []


def test_classic_spend_is_the_classic_request() -> None:
    assert CLASSIC_SPEND.body() == {
        "budget": {"tv": 100000.0, "digital": 200000.0},
        "constraints": {"total": 300000.0},
    }


def test_without_the_default_model_the_first_active_model_is_optimised() -> None:
    models: list[dict[str, Any]] = [
        {"name": "archived", "active_version": None, "channels": ["a"]},
        {"name": "media-mix", "active_version": 2, "channels": ["radio", "search"]},
    ]
    spend = spend_for_first_active(models)
    assert spend.body() == {
        "model": "media-mix",
        "budget": {"radio": 1000.0, "search": 1000.0},
        "constraints": {"total": 2000.0},
    }


def test_no_active_model_says_how_to_get_one() -> None:
    with pytest.raises(SmokeFailure, match="register one"):
        spend_for_first_active([{"name": "old", "active_version": None, "channels": ["a"]}])


def test_allocation_must_spend_the_total_on_the_requested_channels() -> None:
    spend = Spend({"tv": 1.0, "radio": 1.0}, 2.0)
    assert_spends_total(spend, {"tv": 0.5, "radio": 1.5})
    with pytest.raises(SmokeFailure):
        assert_spends_total(spend, {"tv": 0.5, "radio": 1.0})
    with pytest.raises(SmokeFailure):
        assert_spends_total(spend, {"tv": 2.0})
