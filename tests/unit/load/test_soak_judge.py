"""The soak's verdict on one process's samples (pure)."""

from __future__ import annotations

from loadtests.soak import Sample, judge

MiB = 2**20


def series(*rss_mib: float, fds: int = 20, pg: int = 2, redis: int = 3) -> list[Sample]:
    return [
        Sample(at=10.0 * i, rss_bytes=int(m * MiB), fds=fds, postgres_connections=pg,
               redis_connections=redis)
        for i, m in enumerate(rss_mib)
    ]  # fmt: skip


def test_flat_process_after_warmup_passes_even_if_it_grew_during_warmup() -> None:
    verdict = judge(series(50, 80, 100, 101, 102, 101), warmup=20)
    assert verdict["problems"] == []


def test_memory_growing_ten_percent_after_warmup_fails() -> None:
    verdict = judge(series(100, 100, 100, 104, 108, 111), warmup=20)
    assert verdict["problems"] == ["resident memory grew 11.0% after the warm-up"]


def test_descriptor_and_pool_growth_fail() -> None:
    samples = series(100, 100, 100, 100)
    samples[-1].fds += 11
    samples[-1].postgres_connections += 5
    problems = judge(samples, warmup=10)["problems"]
    assert problems == ["descriptors 20 -> 31", "postgres_connections 2 -> 7"]


def test_small_wobbles_within_tolerance_pass() -> None:
    samples = series(100, 100, 100, 100)
    samples[2].fds += 3
    samples[2].redis_connections += 1
    assert judge(samples, warmup=10)["problems"] == []
