"""birds: what the page does, through the frontend role — a random bird (excluding the one on
screen), its picture, now and then a search and the classic ``GET /`` of the bird API.

Point it at the frontend (``roost loadtest birds http://127.0.0.1:3000``): the same-origin
proxy, the birds API and the bird image service are all on the path, as for a visitor.
"""

from __future__ import annotations

import random

from locust import FastHttpUser, between, task

SEARCHES = ["owl", "heron", "robin", "eagle", "finch", "kea", "tit", "wren"]


class BirdWatcher(FastHttpUser):
    wait_time = between(0, 0.02)

    def on_start(self) -> None:
        self.current: str | None = None

    @task(6)
    def next_bird(self) -> None:
        params = {"exclude": self.current} if self.current else {}
        with self.client.get(
            "/api/v1/birds/random", params=params, name="/api/v1/birds/random", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return
            bird = response.json()
            if bird["id"] == self.current:
                response.failure("the same bird twice in a row")
                return
            self.current = bird["id"]
            image_url = bird["image"]["url"]
        if image_url.startswith("/media/"):
            self.client.get(image_url, name="/media/{picture}")

    @task(1)
    def search(self) -> None:
        query = {"q": random.choice(SEARCHES), "limit": 10}
        self.client.get("/api/v1/birds", params=query, name="/api/v1/birds")
