"""Commands on the platform's data: ``migrate``, ``backup``, ``restore``, ``birds seed``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from roost.commands.common import console, fail, resolved_settings

if TYPE_CHECKING:
    from roost.core.settings import Settings

commands = typer.Typer()
birds = typer.Typer(help="Bird catalog operations.", no_args_is_help=True)


@commands.command()
def migrate() -> None:
    """Apply every pending database migration (then the idempotent seed data)."""
    from roost.roles import prepare_database

    settings = resolved_settings()
    if settings.database_url is None:
        fail("ROOST_DATABASE_URL is not set and no `roost up` is running")
    prepare_database(settings, settings.database_url)
    console.print("[green]migrations applied[/green]")


@commands.command()
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


@commands.command()
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


@birds.command("seed")
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
