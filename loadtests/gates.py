"""Perf gates: what a load run must achieve, judged from Locust's aggregated stats."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gates:
    p95_ms: float = 500.0
    p99_ms: float = 1000.0
    max_error_rate: float = 0.01
    min_rps: float = 0.0


@dataclass(frozen=True)
class RunSummary:
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 1.0


def judge(summary: RunSummary, gates: Gates) -> list[str]:
    """Every gate the run missed, as a sentence; empty when it passed."""
    missed = []
    if summary.requests == 0:
        return ["no requests were made"]
    if summary.p95_ms > gates.p95_ms:
        missed.append(f"p95 {summary.p95_ms:.0f} ms > {gates.p95_ms:.0f} ms")
    if summary.p99_ms > gates.p99_ms:
        missed.append(f"p99 {summary.p99_ms:.0f} ms > {gates.p99_ms:.0f} ms")
    if summary.error_rate > gates.max_error_rate:
        missed.append(f"error rate {summary.error_rate:.2%} > {gates.max_error_rate:.2%}")
    if summary.rps < gates.min_rps:
        missed.append(f"throughput {summary.rps:.0f} req/s < {gates.min_rps:.0f} req/s")
    return missed
