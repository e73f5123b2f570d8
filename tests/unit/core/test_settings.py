from __future__ import annotations

import subprocess
import sys

import pytest

from roost.core.settings import Environment, SettingsError, load_settings


def test_defaults_are_valid_for_development() -> None:
    settings = load_settings()
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.kv_max_value_bytes == 1024 * 1024


def test_csv_lists_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_CORS_ORIGINS", "https://a.example, https://b.example")
    assert load_settings().cors_origins == ["https://a.example", "https://b.example"]


def test_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOST_REDIS_URL", "http://not-redis")
    with pytest.raises(SettingsError, match="ROOST_REDIS_URL"):
        load_settings()


def test_production_refuses_debug_and_the_dev_secret() -> None:
    with pytest.raises(SettingsError, match="ROOST_DEBUG must be false"):
        load_settings(environment="production", debug=True, jwt_secret="x" * 40)
    with pytest.raises(SettingsError, match="ROOST_JWT_SECRET must be set"):
        load_settings(environment="production")


def test_short_hs256_secret_is_refused() -> None:
    with pytest.raises(SettingsError, match="at least 32"):
        load_settings(jwt_secret="short")


def test_cli_stops_with_one_clear_line_on_bad_settings() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "roost", "serve", "kv"],
        env={"ROOST_KV_MAX_VALUE_BYTES": "lots", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "ROOST_KV_MAX_VALUE_BYTES" in lines[0]
