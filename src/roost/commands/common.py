"""What every command shares: the error line, settings, running an operator action."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from roost.core.settings import Settings

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


def resolved_settings() -> Settings:
    """The settings, with the URLs of a running `roost up` filled in where none are set."""
    from roost.infra.runtime import with_runtime_urls

    return with_runtime_urls(settings_or_exit())


def run_operator(action: Callable[[], T]) -> T:
    """``action()``, with a domain or dependency error as one error line and exit code 2."""
    from roost.core.errors import DependencyUnavailable, DomainError

    try:
        return action()
    except (DomainError, DependencyUnavailable, ValueError) as error:
        fail(getattr(error, "message", str(error)))
