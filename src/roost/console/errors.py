"""What the console's use cases raise; each declares its HTTP status (core's one handler)."""

from __future__ import annotations

from collections.abc import Mapping

from roost.core.errors import DomainError

# A role that is down is usually back within seconds (the supervisor restarts it).
ROLE_RETRY_AFTER_SECONDS = 5


class ConsoleError(DomainError):
    code = "console_error"


class ActionNotOffered(ConsoleError):
    code = "action_not_offered"
    http_status = 404


class RoleUnavailable(ConsoleError):
    code = "role_unavailable"
    http_status = 503

    def __init__(self, role: str, reason: str) -> None:
        super().__init__(f"{role} is not answering ({reason}); the rest of the console works")
        self.role = role

    def headers(self) -> Mapping[str, str]:
        return {"Retry-After": str(ROLE_RETRY_AFTER_SECONDS)}
