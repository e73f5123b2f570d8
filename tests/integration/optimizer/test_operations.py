"""Auth, rate limits, maintenance mode, metrics and charts of the optimizer role."""

from __future__ import annotations

import asyncio
import io
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from PIL import Image
from redis.asyncio import Redis
from tests.integration.optimizer.optimizer_helpers import CLASSIC_BODY
from tests.support.fixture_types import MakeSettings, OptimizerClient, TokenFor

from roost.infra.redis import MAINTENANCE_KEY

pytestmark = pytest.mark.integration


async def test_anonymous_callers_are_allowed_outside_production_by_default(
    optimizer_client: OptimizerClient,
) -> None:
    async with optimizer_client() as client:
        optimize = await client.post("/api/v1/optimize", json=CLASSIC_BODY)
        models = await client.get("/api/v1/models")
        bad_token = await client.post(
            "/api/v1/optimize", json=CLASSIC_BODY, headers={"Authorization": "Bearer nonsense"}
        )
    assert optimize.status_code == 200
    assert models.status_code == 200
    assert bad_token.status_code == 401  # wrong credentials are never ignored


async def test_required_auth_needs_the_optimize_scope(
    optimizer_client: OptimizerClient, token_for: TokenFor
) -> None:
    async with optimizer_client(optimizer_require_auth=True) as client:
        anonymous = await client.post("/api/v1/optimize", json=CLASSIC_BODY)
        read = await client.get("/api/v1/models")
        wrong_scope = await client.post(
            "/api/v1/optimize", json=CLASSIC_BODY, headers=token_for("kv:read")
        )
        allowed = await client.post(
            "/api/v1/optimize", json=CLASSIC_BODY, headers=token_for("optimize")
        )
        admin = await client.post(
            "/api/v1/models/demo/predict", json={"budget": {"tv": 1}}, headers=token_for("admin")
        )
        result = await client.get(
            f"/api/v1/results/{allowed.json()['id']}", headers=token_for("optimize")
        )
        result_anonymous = await client.get(f"/api/v1/results/{allowed.json()['id']}")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    assert read.status_code == 401
    assert wrong_scope.status_code == 403
    assert allowed.status_code == 200
    assert admin.status_code == 200
    assert result.status_code == 200
    assert result_anonymous.status_code == 401


OPTIMIZE_KEY = "planner-key-0123456789abcdef"
READ_ONLY_KEY = "reporter-key-0123456789abcdef"


async def test_api_keys_and_rs256_tokens_carry_their_scopes(
    optimizer_client: OptimizerClient, token_for: TokenFor
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from roost.core.auth import issue_token

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    keys = f"planner:{OPTIMIZE_KEY}:optimize,reporter:{READ_ONLY_KEY}:kv:read"
    async with optimizer_client(
        optimizer_require_auth=True,
        api_keys=keys,
        jwt_algorithm="RS256",
        jwt_public_key=public_pem,
    ) as client:
        app: Any = client.app  # type: ignore[attr-defined]  # serve_asgi attaches the app
        settings = app.state.settings
        rs256_token = issue_token(settings, "rs", ["optimize"], private_key=private_pem)
        rs256 = {"Authorization": f"Bearer {rs256_token}"}
        hs256 = token_for("optimize")
        by_key = await client.post(
            "/api/v1/optimize", json=CLASSIC_BODY, headers={"X-API-Key": OPTIMIZE_KEY}
        )
        read_only = await client.post(
            "/api/v1/optimize", json=CLASSIC_BODY, headers={"X-API-Key": READ_ONLY_KEY}
        )
        wrong_key = await client.get("/api/v1/models", headers={"X-API-Key": "x" * 30})
        by_rs256 = await client.post("/api/v1/optimize", json=CLASSIC_BODY, headers=rs256)
        by_hs256 = await client.post("/api/v1/optimize", json=CLASSIC_BODY, headers=hs256)
        register = await client.post(
            "/api/v1/models",
            json={
                "name": "by-key",
                "channels": [
                    {"name": "a", "curve": {"type": "power", "params": {"a": 1, "b": 0.5}}}
                ],
            },
            headers={"X-API-Key": OPTIMIZE_KEY},
        )
    assert by_key.status_code == 200
    assert read_only.status_code == 403
    assert wrong_key.status_code == 401
    assert by_rs256.status_code == 200
    assert by_hs256.status_code == 401  # the RS256 verifier accepts no shared-secret token
    assert register.status_code == 403  # registering needs admin, not optimize
    for refused in (read_only, wrong_key, by_hs256, register):
        assert refused.json()["error"]["request_id"]


@pytest.mark.parametrize("debug", [False, True])
async def test_debug_endpoints_exist_only_when_debug_is_on(
    optimizer_client: OptimizerClient, debug: bool
) -> None:
    async with optimizer_client(debug=debug) as client:
        config = await client.get("/debug/config")
    assert config.status_code == (200 if debug else 404)
    if debug:
        assert config.json()["settings"]["optimizer_rate_burst"] == 1000
    else:
        assert config.json()["error"]["code"] == "not_found"


async def test_production_requires_auth_unless_told_otherwise(make_settings: MakeSettings) -> None:
    from roost.roles import optimizer_config

    secret = "a-production-secret-of-at-least-32-chars"
    production = make_settings(environment="production", jwt_secret=secret)
    opened = make_settings(
        environment="production", jwt_secret=secret, optimizer_require_auth=False
    )
    assert optimizer_config(production).require_auth is True
    assert optimizer_config(opened).require_auth is False
    assert optimizer_config(make_settings()).require_auth is False


async def test_optimize_and_predict_share_a_per_client_rate_limit(
    optimizer_client: OptimizerClient, token_for: TokenFor, unique: str
) -> None:
    alice = token_for("optimize", subject=f"alice-{unique}")
    bob = token_for("optimize", subject=f"bob-{unique}")
    async with optimizer_client(optimizer_rate_per_second=1.0, optimizer_rate_burst=5) as client:
        statuses = []
        for index in range(6):
            if index % 2:
                response = await client.post(
                    "/api/v1/models/demo/predict", json={"budget": {"tv": 1}}, headers=alice
                )
            else:
                response = await client.post("/api/v1/optimize", json=CLASSIC_BODY, headers=alice)
            statuses.append(response.status_code)
        refused = response
        other_client = await client.post("/api/v1/optimize", json=CLASSIC_BODY, headers=bob)
        reads = [(await client.get("/api/v1/models", headers=alice)).status_code for _ in range(3)]
        await asyncio.sleep(1.05)
        refilled = await client.post("/api/v1/optimize", json=CLASSIC_BODY, headers=alice)
    assert statuses == [200] * 5 + [429]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    assert other_client.status_code == 200
    assert reads == [200, 200, 200]  # reads are not rate-limited
    assert refilled.status_code == 200


async def test_rate_limit_fails_open_and_counts_it_when_redis_is_down(
    optimizer_client: OptimizerClient,
) -> None:
    async with optimizer_client(
        redis_url="redis://127.0.0.1:1/0", optimizer_rate_per_second=1.0, optimizer_rate_burst=1
    ) as client:
        statuses = [
            (await client.post("/api/v1/optimize", json=CLASSIC_BODY)).status_code for _ in range(3)
        ]
        health = await client.get("/health")
        metrics = (await client.get("/metrics")).text
    assert statuses == [200, 200, 200]
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["redis"]["status"] == "fail"
    line = next(x for x in metrics.splitlines() if x.startswith("rate_limit_fail_open_total"))
    assert float(line.split()[-1]) >= 3


async def test_maintenance_mode_answers_503_but_keeps_health(
    optimizer_client: OptimizerClient, optimizer_redis_url: str
) -> None:
    redis = Redis.from_url(optimizer_redis_url)
    try:
        async with optimizer_client(maintenance_poll_seconds=0.05) as client:
            await redis.set(MAINTENANCE_KEY, b"1")
            await asyncio.sleep(0.2)
            refused = await client.post("/api/v1/optimize", json=CLASSIC_BODY)
            health = await client.get("/healthz")
            await redis.set(MAINTENANCE_KEY, b"0")
            await asyncio.sleep(0.2)
            back = await client.post("/api/v1/optimize", json=CLASSIC_BODY)
    finally:
        await redis.delete(MAINTENANCE_KEY)
        await redis.aclose()
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "maintenance"
    assert health.status_code == 200
    assert back.status_code == 200


def sample(metrics: str, name: str, **labels: str) -> float:
    for line in metrics.splitlines():
        if not line.startswith(name):
            continue
        head = line.rsplit(" ", 1)[0]
        if head.split("{")[0] != name:
            continue
        if all(f'{key}="{value}"' in head for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_optimizer_metrics_count_requests_durations_and_predictions(
    optimizer_client: OptimizerClient,
) -> None:
    infeasible = {
        "budget": {"tv": 1, "digital": 1},
        "constraints": {"total": 1, "channels": {"tv": {"min": 5}}},
    }
    async with optimizer_client() as client:
        before = (await client.get("/metrics")).text
        await client.post("/api/v1/optimize", json=CLASSIC_BODY)
        await client.post("/api/v1/optimize", json=infeasible)
        await client.post("/api/v1/models/demo/predict", json={"budget": {"tv": 1}})
        after = (await client.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("optimization_requests_total", method="max_response", status="optimal") == 1
    assert grew("optimization_requests_total", method="max_response", status="rejected") == 1
    assert grew("optimization_duration_seconds_count") == 1
    assert grew("model_prediction_seconds_count", model_name="demo") == 1
    assert "active_optimizations 0.0" in after


async def test_curves_chart_marks_current_and_optimal_spend(
    optimizer_client: OptimizerClient,
) -> None:
    body = {"budget": {"tv": 100000, "digital": 200000, "search": 0}}
    async with optimizer_client() as client:
        result = (await client.post("/api/v1/optimize", json=body)).json()
        svg = await client.get(result["links"]["curves_svg"])
        png = await client.get(result["links"]["curves_png"])
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.content)  # noqa: S314 - our own output
    namespace = "{http://www.w3.org/2000/svg}"
    texts = [element.text for element in root.iter(f"{namespace}text")]
    for name in ("tv", "digital", "search"):
        assert name in texts
    curves = list(root.iter(f"{namespace}polyline"))
    assert len(curves) == 3
    markers = list(root.iter(f"{namespace}circle"))
    assert len(markers) == 2 + 2 * 3  # legend + current and optimal per channel
    assert png.status_code == 200
    image = Image.open(io.BytesIO(png.content))
    assert image.format == "PNG"
    assert image.width > 800
    assert image.height > 300
    assert "immutable" in png.headers["cache-control"]


async def test_charts_of_unknown_results_are_404(optimizer_client: OptimizerClient) -> None:
    async with optimizer_client() as client:
        missing = await client.get(
            "/api/v1/optimize/6f1c1d8e-0000-4000-8000-000000000000/curves.svg"
        )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "result_not_found"
