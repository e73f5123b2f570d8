"""optimizer: the Atlas clients' classic request and the rich one (a named model, per-channel
bounds, a locked channel), now and then the model list.

Point it at the optimizer role (``roost loadtest optimizer http://127.0.0.1:8002``). In
development it answers without credentials and the demo model is seeded; against a production
deployment pass an API key in ``ROOST_LOADTEST_API_KEY``. The role's own rate limit is per
client, so run it with ``ROOST_OPTIMIZER_RATE_PER_SECOND`` raised, as the e2e test does.
"""

from __future__ import annotations

import os
import random

from locust import FastHttpUser, between, task


def headers() -> dict[str, str]:
    key = os.environ.get("ROOST_LOADTEST_API_KEY")
    return {"X-API-Key": key} if key else {}


class Planner(FastHttpUser):
    # Planners think between requests; one optimizer process serves a few of them at once.
    wait_time = between(0.05, 0.2)

    @task(5)
    def classic(self) -> None:
        total = random.choice([1e5, 3e5, 1e6])
        split = random.uniform(0.2, 0.8)
        body = {
            "budget": {"tv": total * split, "digital": total * (1 - split)},
            "constraints": {"total": total},
        }
        self.client.post("/api/v1/optimize", json=body, headers=headers(), name="optimize classic")

    @task(3)
    def rich(self) -> None:
        total = random.choice([2e5, 5e5])
        constraints: dict[str, object] = {"total": total}
        if random.random() < 0.5:
            constraints["channels"] = {
                "tv": {"min": total * 0.1, "max": total * 0.7},
                "digital": {"min": total * 0.1},
            }
        else:
            # The TV plan is already booked: it keeps its spend (a locked channel has no bounds).
            constraints["locked"] = ["tv"]
            constraints["channels"] = {"digital": {"min": total * 0.1}}
        body = {"budget": {"tv": total / 2, "digital": total / 2}, "constraints": constraints}
        self.client.post("/api/v1/optimize", json=body, headers=headers(), name="optimize rich")

    @task(1)
    def models(self) -> None:
        self.client.get("/api/v1/models", headers=headers(), name="/api/v1/models")
