"""An optimizer job that keeps failing is dead-lettered into the one store every queue shares:
its result says ``failed``, the platform's dead-letter routes and ``roost dlq`` show it under the
optimizer's actor, and a redrive runs it again once its cause is gone.

Real processes' wiring in this process: the optimizer role, the thumbnails role (it serves the
dead-letter routes) and ``roost worker``'s app (both queues, the shared recorder and drain), on
a real Redis broker and Postgres.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import dramatiq
import httpx
import pytest
import redis
from dramatiq.common import xq_name
from tests.conftest import forget_broker_state
from tests.support.roost_cli import run_cli

from roost.core.settings import Settings
from roost.optimizer.dead_letters import RUN_OPTIMIZATION_ACTOR
from roost.thumbnails.jobs import PROCESS_IMAGE_ACTOR

pytestmark = pytest.mark.integration

REQUEST = {
    "model": "demo",
    "budget": {"tv": 20000.0, "digital": 15000.0, "search": 10000.0},
    "constraints": {"total": 60000.0},
}
# What a row written by a buggy release could hold: every run of the job raises on it.
CORRUPT_REQUEST = {"budget": "not a budget"}


@pytest.fixture(scope="module")
def optimizer_database(fresh_database_url: Callable[[str], str]) -> str:
    """Every branch (the worker records dead letters in the queue's table), plus the demo
    model."""
    from roost.infra import migrate
    from roost.optimizer.demo import seed_demo_model

    url = fresh_database_url("roost_optimizer_dlq")
    migrate.upgrade(url)
    seed_demo_model(url)
    return url


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings], tmp_path: Path, unique: str
) -> Iterator[Settings]:
    built = make_settings(
        storage_url=(tmp_path / "objects").as_uri(),
        thumbnails_queue=f"thumbs-{unique}",
        optimizer_async_channel_threshold=1,  # every request is a queue job
        worker_housekeeping_seconds=0.2,
        worker_threads=1,
        worker_max_memory_mb=1 << 20,  # the in-process worker would measure pytest itself
    )
    yield built
    forget_broker_state(built, [built.thumbnails_queue, built.optimizer_queue])


async def replace_stored_request(
    settings: Settings, result_id: str, request: dict[str, Any]
) -> dict[str, Any]:
    """Overwrite a result's stored request; returns the one it had."""
    assert settings.database_url is not None
    connection = await asyncpg.connect(settings.database_url)
    try:
        old = await connection.fetchval(
            "UPDATE optimizer_results new SET request = $2::jsonb FROM optimizer_results old "
            "WHERE new.id = old.id AND new.id = $1::uuid RETURNING old.request::text",
            result_id,
            json.dumps(request),
        )
    finally:
        await connection.close()
    assert old is not None, f"no result {result_id}"
    stored: dict[str, Any] = json.loads(old)
    return stored


async def wait_status(
    client: httpx.AsyncClient, url: str, wanted: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = (await client.get(url)).json()
        if body["status"] == wanted:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} still {body.get('status')} after {timeout}s: {body}")


async def test_a_job_that_always_raises_fails_its_result_and_is_redriven_once_fixed(
    settings: Settings, serve_asgi: Any, admin_headers: dict[str, str]
) -> None:
    from roost.roles import build_optimizer, build_thumbnails
    from roost.worker import build_worker

    mine = {"actor": RUN_OPTIMIZATION_ACTOR}
    async with (
        serve_asgi(build_optimizer(settings)) as optimizer,
        serve_asgi(build_thumbnails(settings)) as thumbnails,
    ):
        accepted = await optimizer.post("/api/v1/optimize", json=REQUEST)
        assert accepted.status_code == 202, accepted.text
        result_id = accepted.json()["id"]
        status_url = accepted.headers["location"]
        original = await replace_stored_request(settings, result_id, CORRUPT_REQUEST)
        async with serve_asgi(build_worker(settings)):
            failed = await wait_status(optimizer, status_url, "failed")
            listed = await thumbnails.get(
                "/api/v1/dead-letters", params=mine, headers=admin_headers
            )
            others = await thumbnails.get(
                "/api/v1/dead-letters", params={"actor": PROCESS_IMAGE_ACTOR}, headers=admin_headers
            )
            cli_listed = await asyncio.to_thread(
                run_cli, settings, "dlq", "list", "--actor", RUN_OPTIMIZATION_ACTOR
            )
            cli_others = await asyncio.to_thread(
                run_cli, settings, "dlq", "list", "--actor", PROCESS_IMAGE_ACTOR
            )

            await replace_stored_request(settings, result_id, original)  # the cause is gone
            redriven = await asyncio.to_thread(
                run_cli, settings, "dlq", "redrive", "--actor", RUN_OPTIMIZATION_ACTOR
            )
            done = await wait_status(optimizer, status_url, "done")
            pending = await thumbnails.get(
                "/api/v1/dead-letters", params=mine, headers=admin_headers
            )
            redriven_letters = await thumbnails.get(
                "/api/v1/dead-letters", params={**mine, "state": "all"}, headers=admin_headers
            )

    assert failed["error"]["code"] == "dead_lettered"
    assert "ValidationError" in failed["error"]["message"]
    letters = [item for item in listed.json()["items"] if item["args"] == [result_id]]
    assert len(letters) == 1, listed.json()
    (letter,) = letters
    assert letter["actor_name"] == RUN_OPTIMIZATION_ACTOR
    assert letter["queue_name"] == settings.optimizer_queue
    assert letter["image_id"] is None
    assert letter["attempts"] == settings.job_max_retries + 1
    assert "ValidationError" in letter["error"]
    assert others.json()["items"] == []

    assert cli_listed.returncode == 0, cli_listed.stderr
    assert letter["id"] in cli_listed.stdout
    assert RUN_OPTIMIZATION_ACTOR in cli_listed.stdout
    assert cli_others.returncode == 0, cli_others.stderr
    assert letter["id"] not in cli_others.stdout

    assert redriven.returncode == 0, redriven.stderr
    assert "1 redriven" in redriven.stderr
    assert done["status"] == "done"
    assert "error" not in done
    assert sum(done["allocation"].values()) == pytest.approx(60000.0, rel=1e-9)
    assert pending.json()["items"] == []
    (after,) = [item for item in redriven_letters.json()["items"] if item["id"] == letter["id"]]
    assert after["redriven_at"] is not None
    assert after["redrive_message_id"]


def park_in_broker_dead_letter_queue(settings: Settings, result_id: str) -> str:
    """What a job dead-lettered while Postgres was down leaves behind: no trace in the
    database, the message only in the broker's dead-letter queue (dramatiq's Redis layout: a
    sorted set of ids by time of death, a hash of the messages). Returns its message id."""
    assert settings.broker_url is not None
    namespace, queue_name = settings.broker_namespace, settings.optimizer_queue
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue_name,
        actor_name=RUN_OPTIMIZATION_ACTOR,
        args=(result_id,),
        kwargs={},
        options={},
    )
    client = redis.Redis.from_url(settings.broker_url)
    try:
        client.delete(f"{namespace}:{queue_name}", f"{namespace}:{queue_name}.msgs")  # taken
        dead_queue = f"{namespace}:{xq_name(queue_name)}"
        client.zadd(dead_queue, {message.message_id: int(time.time() * 1000)})
        client.hset(f"{dead_queue}.msgs", message.message_id, message.encode())
    finally:
        client.close()
    return message.message_id


async def test_the_worker_drains_the_optimizer_queues_broker_dead_letters(
    settings: Settings, serve_asgi: Any, admin_headers: dict[str, str]
) -> None:
    from roost.roles import build_optimizer, build_thumbnails
    from roost.worker import build_worker

    async with (
        serve_asgi(build_optimizer(settings)) as optimizer,
        serve_asgi(build_thumbnails(settings)) as thumbnails,
    ):
        accepted = await optimizer.post("/api/v1/optimize", json=REQUEST)
        result_id = accepted.json()["id"]
        message_id = park_in_broker_dead_letter_queue(settings, result_id)
        async with serve_asgi(build_worker(settings)):
            failed = await wait_status(optimizer, accepted.headers["location"], "failed")
        listed = await thumbnails.get(
            "/api/v1/dead-letters",
            params={"actor": RUN_OPTIMIZATION_ACTOR},
            headers=admin_headers,
        )

    assert failed["error"] == {"code": "dead_lettered", "message": "the job was dead-lettered"}
    (letter,) = [item for item in listed.json()["items"] if item["args"] == [result_id]]
    assert letter["message_id"] == message_id
    assert letter["queue_name"] == settings.optimizer_queue
    assert letter["error"] is None  # the broker keeps no error


async def test_redrive_ids_and_actor_are_not_combined(settings: Settings) -> None:
    answer = await asyncio.to_thread(
        run_cli,
        settings,
        "dlq",
        "redrive",
        "--actor",
        RUN_OPTIMIZATION_ACTOR,
        "00000000-0000-0000-0000-000000000000",
    )
    assert answer.returncode == 2
    assert "--actor" in answer.stderr
