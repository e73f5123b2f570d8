"""The ``roost`` command line: up, serve, migrate, maintenance, smoke, version.

Imports are lazy on purpose: ``roost serve --workers N`` must set the Prometheus multiprocess
directory before prometheus-client is first imported, and ``roost version`` should be instant.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from roost.core.settings import Settings

app = typer.Typer(
    name="roost",
    help="Roost: kv, thumbnails, birds and optimizer services from one codebase.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
maintenance_app = typer.Typer(help="Turn maintenance mode on or off for every replica.")
app.add_typer(maintenance_app, name="maintenance")
thumbnails_app = typer.Typer(help="Thumbnails operations.", no_args_is_help=True)
app.add_typer(thumbnails_app, name="thumbnails")
dlq_app = typer.Typer(help="Dead-lettered jobs: list them, redrive them.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
birds_app = typer.Typer(help="Bird catalog operations.", no_args_is_help=True)
app.add_typer(birds_app, name="birds")

console = Console(stderr=True)
T = TypeVar("T")


def fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings_or_exit(**overrides: object) -> Settings:
    from roost.core.settings import SettingsError, load_settings

    try:
        return load_settings(**overrides)
    except SettingsError as error:
        fail(str(error))


@contextlib.contextmanager
def embedded_data_lock(settings: Settings) -> Iterator[None]:
    """For a backup or restore of `roost up`'s embedded data: one at a time per data dir (a
    second one fails naming the holder's pid); nothing to hold for configured backends."""
    from roost.infra.local_guard import BACKUP_LOCK_FILE, DataDirInUse, DataDirLock
    from roost.infra.runtime import read_runtime

    if not read_runtime(settings.data_dir):
        yield
        return
    try:
        lock = DataDirLock(settings.data_dir.resolve(), BACKUP_LOCK_FILE).__enter__()
    except DataDirInUse as busy:
        fail(f"another backup or restore is running on {busy.data_dir} (pid {busy.holder})")
    try:
        yield
    finally:
        lock.__exit__()


def resolved_settings() -> Settings:
    from roost.infra.runtime import with_runtime_urls

    return with_runtime_urls(settings_or_exit())


@app.command()
def version() -> None:
    """Print the version."""
    from roost import __version__

    typer.echo(__version__)


@app.command()
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


@app.command()
def token(
    subject: Annotated[str, typer.Option(help="Who the token is for")] = "operator",
    scope: Annotated[list[str] | None, typer.Option(help="Repeat for several scopes")] = None,
    ttl: Annotated[int, typer.Option(min=60, help="Lifetime in seconds")] = 3600,
) -> None:
    """Print a signed JWT for ROOST_JWT_SECRET (development and operator use)."""
    from roost.core.auth import issue_token

    settings = settings_or_exit()
    typer.echo(issue_token(settings, subject, scope or ["admin"], ttl_seconds=ttl))


@app.command()
def migrate() -> None:
    """Apply every pending database migration (then the idempotent seed data)."""
    from roost.roles import prepare_database

    settings = resolved_settings()
    if settings.database_url is None:
        fail("ROOST_DATABASE_URL is not set and no `roost up` is running")
    prepare_database(settings, settings.database_url)
    console.print("[green]migrations applied[/green]")


@app.command()
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


@maintenance_app.command("on")
def maintenance_on() -> None:
    """Every route but health and metrics answers 503 within a second."""
    _set_maintenance(True)


@maintenance_app.command("off")
def maintenance_off() -> None:
    """Back to normal service."""
    _set_maintenance(False)


@maintenance_app.command("status")
def maintenance_status() -> None:
    """Print whether maintenance mode is on."""
    import asyncio

    from roost.infra.redis import create_redis, read_maintenance_flag

    settings = resolved_settings()

    async def read() -> bool:
        client = create_redis(settings)
        try:
            return await read_maintenance_flag(client)
        finally:
            await client.aclose()

    typer.echo("on" if asyncio.run(read()) else "off")


def _set_maintenance(enabled: bool) -> None:
    import asyncio

    from redis.exceptions import RedisError

    from roost.infra.redis import create_redis, write_maintenance_flag

    settings = resolved_settings()
    if settings.redis_url is None:
        fail("ROOST_REDIS_URL is not set and no `roost up` is running")

    async def write() -> None:
        client = create_redis(settings)
        try:
            await write_maintenance_flag(client, enabled)
        finally:
            await client.aclose()

    try:
        asyncio.run(write())
    except RedisError as error:
        fail(f"could not reach Redis: {error}")
    console.print(f"maintenance mode {'[yellow]on' if enabled else '[green]off'}")


@app.command()
def backup(
    to: Annotated[
        str | None,
        typer.Option(
            help="Where to keep it: file:///folder or s3://bucket/prefix "
            "(default: ROOST_BACKUP_URL, else --output)"
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option(help="Local folder for the archive, when no URL is given")
    ] = Path("backups"),
    keep: Annotated[
        int | None, typer.Option(min=1, help="Then delete all but the newest N backups there")
    ] = None,
) -> None:
    """Write Postgres, Redis and every object into one archive plus a manifest of checksums."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from roost.infra.backup import create_backup
    from roost.infra.storage import StorageError

    settings = resolved_settings()
    target = to or settings.backup_url or output.resolve().as_uri()
    try:
        with (
            embedded_data_lock(settings),
            Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console) as bar,
        ):
            task = bar.add_task("starting")
            report = create_backup(
                target_url=target,
                database_url=settings.database_url,
                redis_url=settings.redis_url,
                storage_url=settings.storage_url,
                s3_endpoint_url=settings.s3_endpoint_url,
                keep=keep,
                progress=lambda step: bar.update(task, description=step),
            )
    except (StorageError, ValueError) as error:
        fail(f"backup not written: {error}")
    console.print(
        f"[green]backup written[/green] {report.location}/{report.name} "
        f"({report.archive_bytes} bytes; postgres: {report.postgres}, "
        f"redis keys: {report.redis_keys}, objects: {report.object_files})"
    )
    for name in report.pruned:
        console.print(f"pruned {name}")


@app.command()
def restore(
    source: Annotated[
        str | None,
        typer.Argument(
            help="A backup .tar.gz path, or a file:// / s3:// folder (its newest backup) "
            "or archive URL (default: ROOST_BACKUP_URL)"
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Replace the current data with a backup's, after checking it against its checksums."""
    from roost.infra.backup import BackupError, restore_backup
    from roost.infra.storage import StorageError

    if not yes and not typer.confirm("This replaces current data. Continue?", default=False):
        raise typer.Exit(1)
    settings = resolved_settings()
    source = source or settings.backup_url
    if source is None:
        fail("name a backup, or set ROOST_BACKUP_URL")
    try:
        with embedded_data_lock(settings):
            manifest = restore_backup(
                source,
                database_url=settings.database_url,
                redis_url=settings.redis_url,
                storage_url=settings.storage_url,
                s3_endpoint_url=settings.s3_endpoint_url,
                progress=lambda step: console.print(step),
            )
    except (BackupError, StorageError, ValueError) as error:
        fail(f"nothing restored: {error}")
    console.print(f"[green]restored[/green] backup taken {manifest.get('created_at')}")


@app.command()
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

    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / "loadtests" / f"{role}.py").is_file():
        fail(f"no scenario loadtests/{role}.py (load tests run from a source checkout)")
    command = [sys.executable, "-m", "loadtests.run", role, base_url, "--users", str(users)]
    command += ["--seconds", str(seconds), "--p95-ms", str(p95_ms), "--p99-ms", str(p99_ms)]
    command += ["--max-error-rate", str(max_error_rate), "--min-rps", str(min_rps)]
    sys.exit(subprocess.run(command, cwd=checkout, check=False).returncode)


@app.command()
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


@app.command()
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


@thumbnails_app.command("ingest")
def thumbnails_ingest(
    prefix: Annotated[str, typer.Argument(help="Source key prefix, e.g. incoming/2025/")] = "",
) -> None:
    """Enqueue every source object under PREFIX that has no image record yet."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    settings = resolved_settings()

    async def run() -> None:
        async with _thumbnails_operator(settings) as (adapters, send):
            from roost.thumbnails import service

            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
            ) as bar:
                task = bar.add_task(f"ingesting {prefix or '(everything)'}", total=None)
                report = await service.ingest_prefix(
                    adapters.sessions,
                    adapters.sources,
                    send,
                    adapters.config,
                    prefix,
                    on_progress=lambda seen, total: bar.update(task, completed=seen, total=total),
                )
        console.print(
            f"[green]{report.enqueued} enqueued[/green], {report.skipped} already known, "
            f"{report.seen} objects under {prefix!r}"
        )

    _run_operator(lambda: asyncio.run(run()))


@dlq_app.command("list")
def dlq_list(
    state: Annotated[str, typer.Option(help="pending, redriven or all")] = "pending",
    actor: Annotated[
        str | None, typer.Option(help="Only this actor's jobs, e.g. optimizer.run_optimization")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """Show every queue's dead-lettered jobs, newest first, with their last error."""
    import asyncio

    from rich.table import Table

    from roost.infra.dead_letters import STATES
    from roost.thumbnails import service

    chosen = next((known for known in STATES if known == state), None)
    if chosen is None:
        fail("--state is pending, redriven or all")
    settings = resolved_settings()

    async def run() -> service.Page:
        async with _thumbnails_operator(settings) as (adapters, _):
            return await service.list_dead_letters(
                adapters.sessions,
                state=chosen,
                cursor=None,
                limit=limit,
                actor=actor,
            )

    page = _run_operator(lambda: asyncio.run(run()))
    table = Table(title=f"dead letters ({state})")
    for column in ("id", "actor", "job", "attempts", "dead at", "redriven", "error"):
        table.add_column(column, overflow="fold")
    for letter in page.items:
        table.add_row(
            str(letter.id),
            letter.actor_name,
            ", ".join(str(arg) for arg in letter.args)[:80] or "-",
            str(letter.attempts),
            letter.dead_at.isoformat(timespec="seconds"),
            letter.redriven_at.isoformat(timespec="seconds") if letter.redriven_at else "-",
            (letter.error or "-")[:200],
        )
    Console().print(table)
    console.print(
        f"{len(page.items)} shown" + (" (more: raise --limit)" if page.next_cursor else "")
    )


@dlq_app.command("redrive")
def dlq_redrive(
    ids: Annotated[list[str] | None, typer.Argument(help="Dead letter ids (default: all)")] = None,
    actor: Annotated[
        str | None, typer.Option(help="Without ids: only this actor's pending jobs")
    ] = None,
) -> None:
    """Enqueue dead-lettered jobs again (fix their cause first: see `roost dlq list`)."""
    import asyncio
    import uuid

    from roost.infra import dead_letters
    from roost.roles import dead_letter_hooks

    settings = resolved_settings()
    try:
        wanted = [uuid.UUID(raw) for raw in ids or []]
    except ValueError:
        fail("dead letter ids are UUIDs (see `roost dlq list`)")
    if wanted and actor is not None:
        fail("--actor selects pending jobs to redrive; with ids, leave it out")
    hooks = dead_letter_hooks()

    async def run() -> int:
        async with _thumbnails_operator(settings) as (adapters, send):
            if not wanted:
                redriven = await dead_letters.redrive_all(
                    adapters.sessions, hooks, send, actor=actor
                )
                return len(redriven)
            for dead_letter_id in wanted:
                await dead_letters.redrive(adapters.sessions, hooks, send, dead_letter_id)
            return len(wanted)

    count = _run_operator(lambda: asyncio.run(run()))
    console.print(f"[green]{count} redriven[/green]")


@birds_app.command("seed")
def birds_seed() -> None:
    """Add the catalog's seed species that are missing (by slug); edits are kept."""
    from roost.birds.seed import seed_birds_blocking
    from roost.core.errors import DependencyUnavailable

    settings = resolved_settings()
    if settings.database_url is None:
        fail("ROOST_DATABASE_URL is not set and no `roost up` is running")
    try:
        added = seed_birds_blocking(settings.database_url)
    except DependencyUnavailable as error:
        fail(error.message)
    console.print(f"[green]{added} birds added[/green]")


def _thumbnails_operator(settings: Settings) -> Any:
    """``async with``: the thumbnails adapters and a job sender, for operator commands."""
    from contextlib import AsyncExitStack, asynccontextmanager

    from roost.infra import queue
    from roost.roles import open_thumbnail_adapters
    from roost.thumbnails.service import broker_sender

    @asynccontextmanager
    async def opened() -> Any:
        async with AsyncExitStack() as stack:
            adapters = await open_thumbnail_adapters(settings, stack)
            broker = queue.create_broker(settings)
            stack.callback(broker.close)
            yield adapters, broker_sender(broker)

    return opened()


def _run_operator(action: Callable[[], T]) -> T:
    from roost.core.errors import DependencyUnavailable, DomainError

    try:
        return action()
    except (DomainError, DependencyUnavailable, ValueError) as error:
        fail(getattr(error, "message", str(error)))


if __name__ == "__main__":  # pragma: no cover
    app()
