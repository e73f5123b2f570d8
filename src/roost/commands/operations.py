"""Operator commands on a running platform: ``maintenance``, ``smoke``, ``loadtest``, ``token``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from roost.commands.common import console, fail, resolved_settings, settings_or_exit

commands = typer.Typer()
maintenance = typer.Typer(help="Turn maintenance mode on or off for every replica.")


@maintenance.command("on")
def maintenance_on() -> None:
    """Every route but health and metrics answers 503 within a second."""
    _set_maintenance(True)


@maintenance.command("off")
def maintenance_off() -> None:
    """Back to normal service."""
    _set_maintenance(False)


@maintenance.command("status")
def maintenance_status() -> None:
    """Print whether maintenance mode is on."""
    import asyncio

    from roost.infra.redis import read_maintenance_flag
    from roost.roles import operator_redis

    settings = resolved_settings()

    async def read() -> bool:
        async with operator_redis(settings) as client:
            return await read_maintenance_flag(client)

    typer.echo("on" if asyncio.run(read()) else "off")


def _set_maintenance(enabled: bool) -> None:
    import asyncio

    from redis.exceptions import RedisError

    from roost.infra.redis import write_maintenance_flag
    from roost.roles import operator_redis

    settings = resolved_settings()
    if settings.redis_url is None:
        fail("ROOST_REDIS_URL is not set and no `roost up` is running")

    async def write() -> None:
        async with operator_redis(settings) as client:
            await write_maintenance_flag(client, enabled)

    try:
        asyncio.run(write())
    except RedisError as error:
        fail(f"could not reach Redis: {error}")
    console.print(f"maintenance mode {'[yellow]on' if enabled else '[green]off'}")


@commands.command()
def smoke(
    base_url: Annotated[str, typer.Argument(help="e.g. http://127.0.0.1:8000")],
    timeout: Annotated[float, typer.Option(help="Seconds per request")] = 5.0,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="ROOST_SMOKE_API_KEY",
            help="API key with the admin scope: checks the authenticated routes too",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="ROOST_SMOKE_TOKEN",
            help="JWT with the admin scope (instead of an API key)",
        ),
    ] = None,
) -> None:
    """Check a running role end to end; exits non-zero if any check failed."""
    from roost.smoke import Credentials, run_smoke

    try:
        credentials = Credentials(api_key=api_key, token=token)
    except ValueError as error:
        fail(str(error))
    failures = run_smoke(
        base_url.rstrip("/"), timeout=timeout, console=console, credentials=credentials
    )
    sys.exit(1 if failures else 0)


@commands.command()
def loadtest(
    role: Annotated[str, typer.Argument(help="Scenario under loadtests/, e.g. kv")],
    base_url: Annotated[str, typer.Argument(help="e.g. http://127.0.0.1:8000")],
    users: Annotated[int, typer.Option(min=1)] = 20,
    seconds: Annotated[float, typer.Option(min=1)] = 20,
    p95_ms: Annotated[float, typer.Option(help="Gate: 95th percentile latency")] = 500,
    p99_ms: Annotated[float, typer.Option(help="Gate: 99th percentile latency")] = 1000,
    max_error_rate: Annotated[float, typer.Option(help="Gate: failed share")] = 0.01,
    min_rps: Annotated[float, typer.Option(help="Gate: throughput")] = 0,
) -> None:
    """Run a Locust scenario headless and fail when a perf gate is missed."""
    import subprocess

    checkout = Path(__file__).resolve().parents[3]
    if not (checkout / "loadtests" / f"{role}.py").is_file():
        fail(f"no scenario loadtests/{role}.py (load tests run from a source checkout)")
    command = [sys.executable, "-m", "loadtests.run", role, base_url, "--users", str(users)]
    command += ["--seconds", str(seconds), "--p95-ms", str(p95_ms), "--p99-ms", str(p99_ms)]
    command += ["--max-error-rate", str(max_error_rate), "--min-rps", str(min_rps)]
    sys.exit(subprocess.run(command, cwd=checkout, check=False).returncode)


@commands.command()
def token(
    subject: Annotated[str, typer.Option(help="Who the token is for")] = "operator",
    scope: Annotated[list[str] | None, typer.Option(help="Repeat for several scopes")] = None,
    ttl: Annotated[int, typer.Option(min=60, help="Lifetime in seconds")] = 3600,
) -> None:
    """Print a signed JWT for ROOST_JWT_SECRET (development and operator use)."""
    from roost.core.auth import issue_token

    settings = settings_or_exit()
    typer.echo(issue_token(settings, subject, scope or ["admin"], ttl_seconds=ttl))
