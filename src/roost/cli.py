"""The ``roost`` command line: one Typer app over the commands in :mod:`roost.commands`.

Imports are lazy on purpose: ``roost serve --workers N`` must set the Prometheus multiprocess
directory before prometheus-client is first imported, and ``roost version`` should be instant.
"""

from __future__ import annotations

import typer

from roost.commands import data, jobs, operations, processes

app = typer.Typer(
    name="roost",
    help="Roost: kv, thumbnails, birds and optimizer services from one codebase.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(processes.commands)
app.add_typer(data.commands)
app.add_typer(operations.commands)
app.add_typer(operations.maintenance, name="maintenance")
app.add_typer(jobs.thumbnails, name="thumbnails")
app.add_typer(jobs.dlq, name="dlq")
app.add_typer(data.birds, name="birds")


if __name__ == "__main__":  # pragma: no cover
    app()
