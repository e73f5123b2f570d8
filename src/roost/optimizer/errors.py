"""What can go wrong when describing curves or asking for an allocation, independent of HTTP."""

from __future__ import annotations

from roost.core.errors import DomainError


class OptimizerError(DomainError):
    """Base of every optimizer error; ``code`` is stable and machine-readable."""

    code = "optimizer_error"

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


class ConstraintError(OptimizerError):
    """The budget, bounds or channel list of a request are malformed."""

    code = "invalid_constraints"

    def __init__(self, message: str, *, constraint: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.constraint = constraint


class InfeasibleConstraints(ConstraintError):
    """No allocation satisfies the constraints; ``constraint`` says which one breaks."""

    code = "infeasible_constraints"


class TargetUnreachable(OptimizerError):
    """No budget within the bounds reaches the requested response."""

    code = "target_unreachable"

    def __init__(self, message: str, *, max_achievable: float) -> None:
        super().__init__(message)
        self.max_achievable = max_achievable
