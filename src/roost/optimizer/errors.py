"""What can go wrong when describing curves or asking for an allocation.

Each error declares its status next to its code (``http_status``, 422 unless said otherwise) and
the field it blames (``details``); core's one handler renders them, the code raising them knows
no HTTP.
"""

from __future__ import annotations

from typing import Any

from roost.core.errors import DomainError


class OptimizerError(DomainError):
    """Base of every optimizer error; ``code`` is stable and machine-readable."""

    code = "optimizer_error"
    http_status = 422

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidCurve(OptimizerError):
    """A curve description is malformed; ``parameter`` names the offending field."""

    code = "invalid_curve"

    def __init__(self, message: str, *, parameter: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.parameter = parameter

    def details(self) -> Any:
        return {"field": self.parameter}


class ConstraintError(OptimizerError):
    """The budget, bounds or channel list of a request are malformed."""

    code = "invalid_constraints"

    def __init__(self, message: str, *, constraint: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.constraint = constraint

    def details(self) -> Any:
        return {"field": self.constraint}


class InfeasibleConstraints(ConstraintError):
    """No allocation satisfies the constraints; ``constraint`` says which one breaks."""

    code = "infeasible_constraints"


class TargetUnreachable(OptimizerError):
    """No budget within the bounds reaches the requested response."""

    code = "target_unreachable"

    def __init__(self, message: str, *, max_achievable: float) -> None:
        super().__init__(message)
        self.max_achievable = max_achievable

    def details(self) -> Any:
        return {"field": "target", "max_achievable": self.max_achievable}


class UnknownChannel(ConstraintError):
    """A request names a channel the model (or the request's own budget) does not have."""

    code = "unknown_channel"


class UnknownModel(ConstraintError):
    """The request's model or model version cannot be used (unknown, or every version archived)."""

    code = "unknown_model"


class ResultNotFound(OptimizerError):
    code = "result_not_found"
    http_status = 404


class ResultNotReady(OptimizerError):
    """The result exists but cannot answer this yet (still running, failed, or a sweep)."""

    code = "result_not_ready"
    http_status = 409
