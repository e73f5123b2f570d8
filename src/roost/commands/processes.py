"""Commands that run roost: ``version``, ``serve``, ``worker``, ``up``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from roost.commands.common import console, fail, resolved_settings, settings_or_exit

commands = typer.Typer()


@commands.command()
def version() -> None:
    """Print the version."""
    from roost import __version__

    typer.echo(__version__)


@commands.command()
def serve(
    role: Annotated[str, typer.Argument(help="kv, thumbnails, optimizer, birds, bird-images, …")],
    # Loopback on a laptop; the image sets ROOST_HOST=0.0.0.0, so a CMD without --host is
    # still reachable from outside its container.
    host: Annotated[str, typer.Option(envvar="ROOST_HOST", help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port (default: the role's port)")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes")] = 1,
) -> None:
    """Serve one role's HTTP API."""
    from roost.core.settings import ROLE_PORTS

    if role not in ROLE_PORTS or role == "worker":
        fail(f"unknown role {role!r}; roles: {', '.join(r for r in ROLE_PORTS if r != 'worker')}")
    os.environ["ROOST_ROLE"] = role
    settings = resolved_settings()
    for field in ("database_url", "redis_url", "broker_url", "storage_url"):
        value = getattr(settings, field)
        if value is not None:
            os.environ[f"ROOST_{field.upper()}"] = value
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = (settings.data_dir / "metrics" / f"{role}-{os.getpid()}").resolve()
        # A fresh directory (stale files of a dead run would be summed in), set before
        # prometheus-client is imported anywhere in this process.
        metrics_dir.mkdir(parents=True, exist_ok=True)
        for stale in metrics_dir.glob("*.db"):
            stale.unlink()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    from roost.core import server
    from roost.roles import ROLE_BUILDERS

    if role not in ROLE_BUILDERS:
        fail(f"role {role!r} is not available in this build")
    server.run(
        "roost.roles:app_from_env",
        host=host,
        port=port or ROLE_PORTS[role],
        workers=workers,
        forwarded_allow_ips=settings.trusted_proxies,
    )


@commands.command()
def worker(
    # Probes reach the worker on its pod IP; it serves only health and metrics.
    host: Annotated[str, typer.Option(help="Interface of the health server")] = "0.0.0.0",  # nosec B104
    port: Annotated[int | None, typer.Option(help="Health server port (default 9101)")] = None,
    threads: Annotated[int | None, typer.Option(min=1, max=64, help="Job threads")] = None,
) -> None:
    """Run queue jobs (thumbnails) with /healthz, /readyz and /metrics on the worker port."""
    from roost.core import server
    from roost.core.logging import configure_logging
    from roost.core.settings import ROLE_PORTS
    from roost.core.tracing import tracing_enabled
    from roost.infra.allocators import keep_image_memory
    from roost.worker import build_worker

    settings = resolved_settings()
    if threads is not None:
        settings = settings.model_copy(update={"worker_threads": threads})
    for field in ("database_url", "broker_url", "storage_url"):
        if getattr(settings, field) is None:
            fail(f"ROOST_{field.upper()} is not set and no `roost up` is running")
    configure_logging(settings.log_level, json=settings.log_json, tracing=tracing_enabled(settings))
    # Process-wide allocator settings: here, not in build_worker, which tests run in-process.
    keep_image_memory(settings.worker_image_block_cache)
    server.run(
        build_worker(settings),
        host=host,
        port=port or ROLE_PORTS["worker"],
        forwarded_allow_ips=settings.trusted_proxies,
    )


@commands.command()
def up(
    data_dir: Annotated[Path | None, typer.Option(help="Where embedded data lives")] = None,
    host: Annotated[str, typer.Option(help="Interface the roles bind")] = "127.0.0.1",
    port_offset: Annotated[int, typer.Option(help="Added to every role's default port")] = 0,
    roles: Annotated[str | None, typer.Option(help="Comma-separated roles (default: all)")] = None,
) -> None:
    """Start the whole platform on embedded Postgres and Redis (or the URLs you configure)."""
    from roost.infra.local_guard import DataDirInUse
    from roost.platform import Platform, PortsBusy

    settings = settings_or_exit(**({"data_dir": data_dir} if data_dir else {}))
    selected = [r.strip() for r in roles.split(",")] if roles else None
    try:
        Platform(
            settings, host=host, port_offset=port_offset, roles=selected, console=console
        ).run()
    except (ValueError, DataDirInUse, PortsBusy) as error:
        fail(str(error))
