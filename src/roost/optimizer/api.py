"""HTTP routes of the optimizer: model registry, predict, optimize, results and charts.

Thin by design: parse, call one use case of :mod:`roost.optimizer.service`, add the links a
result view points to (this layer knows its routes), answer. Domain errors declare their own
status (:mod:`roost.optimizer.errors`) and core renders them.

Routes answer with their declared response model, except a full result view (``ResultView``):
it can hold a sweep over a thousand totals of a thousand channels, so it goes out as the dict
it is, and the integration tests validate it against the model instead.

Auth: registering or archiving a model needs the ``admin`` scope. Everything else needs the
``optimize`` scope when ``ROOST_OPTIMIZER_REQUIRE_AUTH`` is on (the default in production) and
is open otherwise. Optimize and predict share one per-client rate limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from roost.core.auth import ADMIN_SCOPE, Principal, current_principal, require_scopes
from roost.core.cursors import CURSOR_PATTERN, MAX_CURSOR_CHARS
from roost.core.openapi import answers, error_responses
from roost.core.ratelimit import RateLimit, rate_limited
from roost.core.responses import json_response
from roost.optimizer import charts, service
from roost.optimizer.config import OptimizerDeps
from roost.optimizer.models import UNFINISHED_STATUSES
from roost.optimizer.registry import MODEL_NAME_PATTERN
from roost.optimizer.schemas import (
    ModelIn,
    ModelPage,
    ModelSummaryOut,
    ModelVersionOut,
    ModelVersions,
    OptimizeRequest,
    Prediction,
    PredictRequest,
    RegisteredModel,
    ResultPage,
    ResultStatus,
    ResultSummary,
    ResultView,
    StatusIn,
)

OPTIMIZE_SCOPE = "optimize"
MAX_VERSION = 2**31 - 1


def _deps(request: Request) -> OptimizerDeps:
    deps: OptimizerDeps = request.app.state.optimizer
    return deps


def caller(scope: str) -> Callable[[Request], Awaitable[Principal | None]]:
    """The caller, who must hold ``scope`` when the optimizer requires auth."""
    strict = require_scopes(scope)

    @answers(401, 403)
    async def dependency(request: Request) -> Principal | None:
        if _deps(request).config.require_auth:
            return await strict(request)
        return current_principal(request)  # bad credentials are still refused (401)

    return dependency


def _rate_limit(request: Request) -> RateLimit:
    return _deps(request).config.rate_limit


def _subject(request: Request) -> str | None:
    principal = current_principal(request)
    return principal.subject if principal is not None else None


reader = [Depends(caller(OPTIMIZE_SCOPE))]
computer = [Depends(caller(OPTIMIZE_SCOPE)), Depends(rate_limited(_rate_limit))]
admin = [Depends(require_scopes(ADMIN_SCOPE))]
ModelNamePath = Annotated[str, Path(max_length=200)]
VersionQuery = Annotated[int | None, Query(ge=1, le=MAX_VERSION)]
VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION)]
ResultIdPath = Annotated[str, Path(max_length=64)]

router = APIRouter(prefix="/api/v1", tags=["optimizer"])


@router.get(
    "/models",
    dependencies=reader,
    summary="Registered models, one entry per name",
    response_model=ModelPage,
)
async def list_models(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
) -> Response:
    summaries = await service.list_models(_deps(request).sessions, limit=limit, after=after)
    items = [ModelSummaryOut.model_validate(summary.as_dict()) for summary in summaries]
    next_after = items[-1].name if len(items) == limit else None
    return json_response(ModelPage(items=items, next_after=next_after))


@router.post(
    "/models",
    dependencies=admin,
    summary="Register a model (idempotent by checksum)",
    response_model=RegisteredModel,
    responses={
        201: {"model": RegisteredModel, "description": "Registered a new version"},
        **error_responses(422),
    },
)
async def register_model(request: Request, body: ModelIn) -> Response:
    deps = _deps(request)
    version, created = await service.register_model(
        deps.sessions,
        deps.config,
        name=body.name,
        description=body.description,
        channels=[channel.model_dump() for channel in body.channels],
        created_by=_subject(request),
    )
    location = request.app.url_path_for(
        "model_version", name=version.name, version=str(version.version)
    )
    return json_response(
        RegisteredModel.model_validate(version.as_dict() | {"created": created}),
        201 if created else 200,
        {"Location": str(location)},
    )


@router.get(
    "/models/{name}",
    dependencies=reader,
    summary="Every version of one model",
    response_model=ModelVersions,
    responses=error_responses(404),
)
async def model_versions(request: Request, name: ModelNamePath) -> Response:
    versions = await service.model_versions(_deps(request).sessions, name)
    listed = [ModelVersionOut.model_validate(version.as_dict()) for version in versions]
    return json_response(ModelVersions(name=name, versions=listed))


@router.get(
    "/models/{name}/versions/{version}",
    dependencies=reader,
    summary="One version of a model",
    response_model=ModelVersionOut,
    responses=error_responses(404),
)
async def model_version(
    request: Request,
    name: ModelNamePath,
    version: VersionPath,
) -> Response:
    found = await service.model_version(_deps(request).sessions, name, version)
    return json_response(ModelVersionOut.model_validate(found.as_dict()))


@router.patch(
    "/models/{name}/versions/{version}",
    dependencies=admin,
    summary="Archive or reactivate a model version",
    response_model=ModelVersionOut,
    responses=error_responses(404, 409),
)
async def set_model_status(
    request: Request,
    name: ModelNamePath,
    version: VersionPath,
    body: StatusIn,
) -> Response:
    changed = await service.set_model_status(_deps(request).sessions, name, version, body.status)
    return json_response(ModelVersionOut.model_validate(changed.as_dict()))


@router.post(
    "/models/{name}/predict",
    dependencies=computer,
    summary="Predicted response and marginal return of a spend per channel",
    response_model=Prediction,
    responses=error_responses(404, 409, 422),
)
async def predict(
    request: Request, name: ModelNamePath, body: PredictRequest, version: VersionQuery = None
) -> Response:
    result = await service.predict_spend(_deps(request).sessions, name, version, body.budget)
    return json_response(Prediction.model_validate(result))


@router.post(
    "/optimize",
    dependencies=computer,
    summary="Best allocation of a budget (202 and a status URL for large requests)",
    response_model=ResultView,
    responses={
        202: {"model": ResultView, "description": "Queued: poll the Location"},
        **error_responses(404, 409),
    },
)
async def optimize(request: Request, body: OptimizeRequest) -> Response:
    outcome = await service.optimize(_deps(request), body, requested_by=_subject(request))
    view = with_links(request, outcome.view)
    location = view["links"]["self"]
    if outcome.queued:
        return json_response(view, 202, {"Location": location, "Retry-After": "1"})
    return json_response(view, 200, {"Location": location})


@router.get(
    "/results",
    dependencies=reader,
    summary="Past results, newest first (keyset pages: follow next_cursor)",
    response_model=ResultPage,
    responses=error_responses(400),
)
async def list_results(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[
        str | None,
        Query(
            max_length=MAX_CURSOR_CHARS,
            pattern=CURSOR_PATTERN,
            description="The next_cursor of the previous page (opaque; a forged one is 400)",
        ),
    ] = None,
    status: Annotated[ResultStatus | None, Query(description="Only results in this state")] = None,
    model: Annotated[
        str | None, Query(pattern=MODEL_NAME_PATTERN, description="Only results of this model")
    ] = None,
) -> Response:
    page = await service.list_results(
        _deps(request).sessions, limit=limit, cursor=cursor, status=status, model=model
    )
    items = [ResultSummary.model_validate(with_links(request, item)) for item in page.items]
    return json_response(ResultPage(items=items, next_cursor=page.next_cursor))


@router.get(
    "/results/{result_id}",
    dependencies=reader,
    summary="A result or a job's status",
    response_model=ResultView,
    responses=error_responses(404),
)
async def get_result(request: Request, result_id: ResultIdPath) -> Response:
    view = with_links(request, await service.get_result(_deps(request).sessions, result_id))
    headers = {"Retry-After": "1"} if view["status"] in UNFINISHED_STATUSES else None
    return json_response(view, headers=headers)


def _chart_route(
    extension: str, media_type: str, render: Callable[[charts.Chart], str | bytes]
) -> None:
    """``GET /optimize/{result_id}/curves.<extension>``: a finished result's chart, rendered by
    ``render``; the route is named ``curves_<extension>`` (``with_links`` points to it)."""

    async def curves(request: Request, result_id: ResultIdPath) -> Response:
        chart = await service.result_chart(_deps(request).sessions, result_id)
        body = await asyncio.to_thread(render, chart)
        return Response(body, media_type=media_type, headers=_CHART_HEADERS)

    router.add_api_route(
        f"/optimize/{{result_id}}/curves.{extension}",
        curves,
        methods=["GET"],
        name=f"curves_{extension}",
        dependencies=reader,
        summary=f"Response curves with current and optimal spend ({extension.upper()})",
        response_class=Response,
        responses={200: {"content": {media_type: {}}}, **error_responses(404, 409)},
    )


_chart_route("svg", "image/svg+xml", charts.render_svg)
_chart_route("png", "image/png", charts.render_png)


def with_links(request: Request, view: dict[str, Any]) -> dict[str, Any]:
    """A result view with the URLs of what it points to: itself and, for a finished single
    optimization, its charts."""
    result_id = view["id"]
    links = {"self": str(request.app.url_path_for("get_result", result_id=result_id))}
    if view["kind"] == "optimize" and view["status"] == "done":
        links["curves_svg"] = str(request.app.url_path_for("curves_svg", result_id=result_id))
        links["curves_png"] = str(request.app.url_path_for("curves_png", result_id=result_id))
    return view | {"links": links}


# A finished result never changes, so neither does its chart.
_CHART_HEADERS = {"Cache-Control": "private, max-age=86400, immutable"}
