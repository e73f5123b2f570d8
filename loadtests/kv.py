"""kv: a read-heavy mix over a bounded key space, the classic and the v1 API."""

from __future__ import annotations

import random

from locust import FastHttpUser, between, task

KEYS = [f"load-{i}" for i in range(500)]


class KVUser(FastHttpUser):
    wait_time = between(0, 0.01)

    def on_start(self) -> None:
        for key in random.sample(KEYS, 5):
            self.client.post(f"/write/{key}", params={"value": "warm"}, name="/write/{key}")

    @task(8)
    def classic_read(self) -> None:
        key = random.choice(KEYS)
        with self.client.get(f"/read/{key}", name="/read/{key}", catch_response=True) as response:
            if response.status_code in (200, 404):  # a cold key is a correct answer
                response.success()

    @task(2)
    def classic_write(self) -> None:
        key = random.choice(KEYS)
        self.client.post(f"/write/{key}", params={"value": "v"}, name="/write/{key}")

    @task(1)
    def v1_put_get(self) -> None:
        key = random.choice(KEYS)
        self.client.put(f"/api/v1/kv/{key}", json={"value": {"n": 1}}, name="/api/v1/kv/{key}")
        self.client.get(f"/api/v1/kv/{key}", name="/api/v1/kv/{key}")
