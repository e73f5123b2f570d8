"""thumbnails: what an uploading client does — upload a photo, poll its status URL until it is
final, then fetch one thumbnail. Needs a worker next to the API (``roost up`` starts one).

Point it at the thumbnails role (``roost loadtest thumbnails http://127.0.0.1:8001``). Images
are made once per user, small enough that the run measures the pipeline, not the client.
"""

from __future__ import annotations

import random
import time
from io import BytesIO

from locust import FastHttpUser, between, task
from PIL import Image

POLL_SECONDS = 0.1
READY_WITHIN_SECONDS = 30.0


def photo(seed: int) -> bytes:
    buffer = BytesIO()
    Image.linear_gradient("L").resize((640, 480)).convert("RGB").rotate(seed % 360).save(
        buffer, "JPEG", quality=85
    )
    return buffer.getvalue()


class Uploader(FastHttpUser):
    wait_time = between(0.2, 0.5)

    def on_start(self) -> None:
        self.photos = [photo(random.randrange(360)) for _ in range(3)]

    @task(4)
    def upload_and_follow(self) -> None:
        files = {"file": ("photo.jpg", random.choice(self.photos), "image/jpeg")}
        with self.client.post(
            "/api/v1/images", files=files, name="/api/v1/images [upload]", catch_response=True
        ) as response:
            if response.status_code != 202:
                response.failure(f"status {response.status_code}")
                return
            status_url = response.json()["status_url"]
        deadline = time.monotonic() + READY_WITHIN_SECONDS
        while True:
            with self.client.get(
                status_url, name="/api/v1/images/{id} [poll]", catch_response=True
            ) as polled:
                body = polled.json() if polled.status_code == 200 else {}
                status = body.get("status")
                if status == "done":
                    thumbnail = body["thumbnails"]["150"]["url"]
                    break
                if status in ("rejected", "failed") or time.monotonic() > deadline:
                    polled.failure(f"image {status or polled.status_code}")
                    return
            time.sleep(POLL_SECONDS)
        self.client.get(thumbnail, name="/api/v1/images/{id}/thumbnails/{size}")

    @task(1)
    def list_recent(self) -> None:
        self.client.get("/api/v1/images", params={"limit": 20}, name="/api/v1/images [list]")
