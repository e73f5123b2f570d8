"""Request bodies of the optimizer API: strict, closed (unknown fields are 422), finite.

Numbers are strict floats (``true`` or ``"12"`` are not spend), finite, and at most
``MAX_AMOUNT``: far beyond any budget, small enough that sums and products stay finite.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from roost.optimizer.registry import CHANNEL_NAME_PATTERN, MODEL_NAME_PATTERN

MAX_AMOUNT = 1e15
MAX_CHANNELS = 100_000  # the configured limit (optimizer_max_channels) is checked in the service

Amount = Annotated[float, Field(strict=True, ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]
PositiveAmount = Annotated[float, Field(strict=True, gt=0, le=MAX_AMOUNT, allow_inf_nan=False)]
Fraction = Annotated[float, Field(strict=True, ge=0, le=1e6, allow_inf_nan=False)]
ModelName = Annotated[str, StringConstraints(pattern=MODEL_NAME_PATTERN)]
ChannelName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
RegisteredChannelName = Annotated[str, StringConstraints(pattern=CHANNEL_NAME_PATTERN)]
# Postgres text cannot hold a NUL byte.
Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
FiniteNumber = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Objective = Literal["max_response", "target_roi"]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ChannelBounds(_Closed):
    """Bounds on one channel's spend: absolute, or as a fraction of its current spend."""

    min: Amount | None = None
    max: Amount | None = None
    min_fraction: Fraction | None = None
    max_fraction: Fraction | None = None

    @model_validator(mode="after")
    def _one_way_per_side(self) -> ChannelBounds:
        if self.min is not None and self.min_fraction is not None:
            raise ValueError("give min or min_fraction, not both")
        if self.max is not None and self.max_fraction is not None:
            raise ValueError("give max or max_fraction, not both")
        return self


class Constraints(_Closed):
    total: Amount | None = Field(
        None, description="Budget to allocate (default: the sum of current spend)"
    )
    channels: dict[ChannelName, ChannelBounds] = Field(
        default_factory=dict, max_length=MAX_CHANNELS
    )
    locked: list[ChannelName] = Field(
        default_factory=list,
        max_length=MAX_CHANNELS,
        description="Channels kept at their current spend",
    )


class Target(_Closed):
    """What ``target_roi`` aims for: a total response, or a marginal ROI."""

    response: PositiveAmount | None = None
    marginal_roi: PositiveAmount | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if (self.response is None) == (self.marginal_roi is None):
            raise ValueError("give exactly one of response or marginal_roi")
        return self


class Sweep(_Closed):
    totals: list[Amount] = Field(min_length=1, max_length=1000)


class OptimizeRequest(_Closed):
    """The classic body is ``{"budget": {...}, "constraints": {"total": ...}}``."""

    model: ModelName | None = Field(None, description="Model name (default: the demo model)")
    model_version: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] | None = None
    budget: dict[ChannelName, Amount] = Field(
        min_length=1, max_length=MAX_CHANNELS, description="Current spend per channel"
    )
    constraints: Constraints = Field(default_factory=Constraints)
    objective: Objective = "max_response"
    target: Target | None = None
    sweep: Sweep | None = None

    @model_validator(mode="after")
    def _objective_fits(self) -> OptimizeRequest:
        if self.objective == "target_roi" and self.target is None:
            raise ValueError("objective target_roi needs a target")
        if self.objective == "max_response" and self.target is not None:
            raise ValueError("a target is only used with objective target_roi")
        if self.sweep is not None and self.objective != "max_response":
            raise ValueError("a sweep runs objective max_response at each total")
        if self.sweep is not None and self.constraints.total is not None:
            raise ValueError("a sweep gives its totals in sweep.totals, not constraints.total")
        return self


class PredictRequest(_Closed):
    budget: dict[ChannelName, Amount] = Field(min_length=1, max_length=MAX_CHANNELS)


class CurveIn(_Closed):
    type: str = Field(max_length=32)
    # Names and ranges are checked against the curve kind by curves.py, which names the
    # offending parameter; finiteness is checked here (curves.py would overflow on 10**400).
    params: dict[Annotated[str, StringConstraints(max_length=32)], FiniteNumber] = Field(
        max_length=16
    )


class ChannelIn(_Closed):
    name: RegisteredChannelName
    curve: CurveIn
    adstock: Annotated[float, Field(strict=True, ge=0, lt=1, allow_inf_nan=False)] = 0.0


class ModelIn(_Closed):
    name: ModelName
    description: Text = ""
    channels: list[ChannelIn] = Field(min_length=1, max_length=MAX_CHANNELS)


class StatusIn(_Closed):
    status: Literal["active", "archived"]


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------

ResultStatus = Literal["queued", "running", "done", "failed"]  # models.RESULT_STATUSES


class ModelRef(BaseModel):
    name: str
    version: int


class ResultLinks(BaseModel):
    self: str = Field(description="This result: GET it for the whole allocation")
    curves_svg: str | None = Field(
        None, description="Its chart, once a single optimization is done"
    )
    curves_png: str | None = None


class ChannelAllocation(BaseModel):
    name: str
    current_spend: float
    optimal_spend: float
    change: float
    min: float
    max: float | None = Field(description="null: no upper bound")
    locked: bool
    response_before: float
    response_after: float
    marginal_roi: float


class _ResultHead(BaseModel):
    """What every view of a result starts with."""

    id: str
    status: ResultStatus
    kind: Literal["optimize", "sweep"]
    objective: str
    model: ModelRef
    channel_count: int
    attempts: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    links: ResultLinks


class ResultView(_ResultHead):
    """A stored result (``GET /api/v1/results/{id}``, and the answer of ``POST /optimize``).

    The fields after ``links`` appear as they apply: a done optimization has ``total`` through
    ``solver`` (and ``target``/``achieved`` for ``target_roi``), a done sweep ``current``,
    ``predicted_response``, ``scenarios`` and ``solver``; a failed one ``error``.
    """

    model_config = ConfigDict(extra="forbid")

    error: dict[str, Any] | None = None
    total: float | None = None
    allocation: dict[str, float] | None = None
    current: dict[str, float] | None = None
    predicted_response: dict[str, float] | None = None
    lift: dict[str, float | None] | None = None
    marginal_roi: dict[str, float] | None = None
    budget_marginal_roi: float | None = None
    channels: list[ChannelAllocation] | None = None
    scenarios: list[dict[str, Any]] | None = None
    solver: dict[str, Any] | None = None
    target: dict[str, float] | None = None
    achieved: dict[str, float | None] | None = None
    time_taken_ms: float | None = None


class ResultSummary(_ResultHead):
    """One past result in a page: what it was, how it ended, where the rest of it is."""

    error: dict[str, Any] | None = Field(description="Why it failed (status failed only)")
    total: float | None = Field(description="Budget allocated (a done optimization only)")
    predicted_response: dict[str, float] | None = Field(
        description="before and after (a done sweep: before)"
    )
    lift: dict[str, float | None] | None = Field(description="absolute and relative (done only)")


class ResultPage(BaseModel):
    items: list[ResultSummary]
    next_cursor: str | None = Field(description="Pass back as cursor for the next (older) page")


class CurveOut(BaseModel):
    type: str
    params: dict[str, float]


class ChannelOut(BaseModel):
    name: str
    curve: CurveOut
    adstock: float


class ModelVersionOut(BaseModel):
    name: str
    version: int
    status: Literal["active", "archived"]  # models.MODEL_STATUSES
    description: str
    checksum: str = Field(description="SHA-256 of the canonical channel list")
    created_at: str
    created_by: str | None
    channels: list[ChannelOut]


class RegisteredModel(ModelVersionOut):
    created: bool = Field(description="false: the same channels were registered before")


class ModelVersions(BaseModel):
    name: str
    versions: list[ModelVersionOut]


class ModelSummaryOut(BaseModel):
    name: str
    latest_version: int
    active_version: int | None
    versions: int
    status: str
    description: str
    channels: list[str]
    updated_at: str


class ModelPage(BaseModel):
    items: list[ModelSummaryOut]
    next_after: str | None = Field(description="Pass back as after for the next page")


class ChannelPrediction(BaseModel):
    spend: float
    response: float
    marginal_return: float


class Prediction(BaseModel):
    model: ModelRef
    channels: dict[str, ChannelPrediction]
    total_spend: float
    total_response: float
