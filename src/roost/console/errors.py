"""What the console's use cases raise; ``api.py`` maps each to a status in one place."""

from __future__ import annotations

from roost.core.errors import DomainError


class ConsoleError(DomainError):
    code = "console_error"


class ActionNotOffered(ConsoleError):
    code = "action_not_offered"


class RoleUnavailable(ConsoleError):
    code = "role_unavailable"

    def __init__(self, role: str, reason: str) -> None:
        super().__init__(f"{role} is not answering ({reason}); the rest of the console works")
        self.role = role
