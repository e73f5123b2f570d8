from __future__ import annotations

from loadtests.gates import Gates, RunSummary, judge


def summary(**overrides: float) -> RunSummary:
    base = {
        "requests": 1000,
        "failures": 0,
        "rps": 500.0,
        "p50_ms": 5.0,
        "p95_ms": 20.0,
        "p99_ms": 40.0,
    }
    base.update(overrides)
    return RunSummary(**base)  # type: ignore[arg-type]


def test_a_healthy_run_passes_every_gate() -> None:
    assert judge(summary(), Gates(min_rps=100)) == []


def test_each_gate_reports_what_it_missed() -> None:
    missed = judge(
        summary(p95_ms=900, p99_ms=2000, failures=50, rps=10),
        Gates(p95_ms=500, p99_ms=1000, max_error_rate=0.01, min_rps=100),
    )
    assert missed == [
        "p95 900 ms > 500 ms",
        "p99 2000 ms > 1000 ms",
        "error rate 5.00% > 1.00%",
        "throughput 10 req/s < 100 req/s",
    ]


def test_a_run_without_requests_fails() -> None:
    assert judge(summary(requests=0), Gates()) == ["no requests were made"]
