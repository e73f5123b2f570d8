"""Commands on queue jobs: ``thumbnails ingest``, ``dlq list``, ``dlq redrive``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from roost.commands.common import console, fail, resolved_settings, run_operator

if TYPE_CHECKING:
    from roost.thumbnails.service import Page

thumbnails = typer.Typer(help="Thumbnails operations.", no_args_is_help=True)
dlq = typer.Typer(help="Dead-lettered jobs: list them, redrive them.", no_args_is_help=True)


@thumbnails.command("ingest")
def thumbnails_ingest(
    prefix: Annotated[str, typer.Argument(help="Source key prefix, e.g. incoming/2025/")] = "",
) -> None:
    """Enqueue every source object under PREFIX that has no image record yet."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from roost.roles import operator_jobs
    from roost.thumbnails.ingest import ingest_prefix

    settings = resolved_settings()

    async def run() -> None:
        async with operator_jobs(settings) as (adapters, send):
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=console,
            ) as bar:
                task = bar.add_task(f"ingesting {prefix or '(everything)'}", total=None)
                report = await ingest_prefix(
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

    run_operator(lambda: asyncio.run(run()))


@dlq.command("list")
def dlq_list(
    state: Annotated[str, typer.Option(help="pending, redriven or all")] = "pending",
    actor: Annotated[
        str | None, typer.Option(help="Only this actor's jobs, e.g. optimizer.run_optimization")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
) -> None:
    """Show every queue's dead-lettered jobs, newest first, with their last error."""
    import asyncio

    from rich.console import Console
    from rich.table import Table

    from roost.infra.dead_letters import STATES
    from roost.roles import operator_jobs
    from roost.thumbnails import service

    chosen = next((known for known in STATES if known == state), None)
    if chosen is None:
        fail("--state is pending, redriven or all")
    settings = resolved_settings()

    async def run() -> Page:
        async with operator_jobs(settings) as (adapters, _):
            return await service.list_dead_letters(
                adapters.sessions,
                state=chosen,
                cursor=None,
                limit=limit,
                actor=actor,
            )

    page = run_operator(lambda: asyncio.run(run()))
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


@dlq.command("redrive")
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
    from roost.roles import dead_letter_hooks, operator_jobs

    settings = resolved_settings()
    try:
        wanted = [uuid.UUID(raw) for raw in ids or []]
    except ValueError:
        fail("dead letter ids are UUIDs (see `roost dlq list`)")
    if wanted and actor is not None:
        fail("--actor selects pending jobs to redrive; with ids, leave it out")
    hooks = dead_letter_hooks()

    async def run() -> int:
        async with operator_jobs(settings) as (adapters, send):
            if not wanted:
                redriven = await dead_letters.redrive_all(
                    adapters.sessions, hooks, send, actor=actor
                )
                return len(redriven)
            for dead_letter_id in wanted:
                await dead_letters.redrive(adapters.sessions, hooks, send, dead_letter_id)
            return len(wanted)

    count = run_operator(lambda: asyncio.run(run()))
    console.print(f"[green]{count} redriven[/green]")
