"""Jobs wait out a dependency outage within a budget instead of spending their retries."""

from __future__ import annotations

import pytest

from roost.core.errors import DependencyUnavailable
from roost.infra.queue import wait_out_outages


class FakeClock:
    """An injected clock: sleeping advances it, nothing really waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def flaky(failures: int) -> tuple[list[int], object]:
    calls: list[int] = []

    def job() -> str:
        calls.append(1)
        if len(calls) <= failures:
            raise DependencyUnavailable("postgres")
        return "done"

    return calls, job


def test_a_job_runs_again_once_its_dependency_is_back() -> None:
    clock = FakeClock()
    calls, job = flaky(failures=5)
    assert wait_out_outages(job, 30.0, sleep=clock.sleep, clock=clock) == "done"  # type: ignore[arg-type]
    assert len(calls) == 6
    assert clock.pauses == [0.25, 0.5, 1.0, 2.0, 2.0]


def test_an_outage_longer_than_the_budget_reaches_the_retry_machinery() -> None:
    clock = FakeClock()
    calls, job = flaky(failures=1000)
    with pytest.raises(DependencyUnavailable):
        wait_out_outages(job, 10.0, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert clock.now <= 10.0
    assert sum(clock.pauses) == pytest.approx(clock.now)
    assert len(calls) == len(clock.pauses) + 1


def test_other_errors_are_not_waited_on() -> None:
    clock = FakeClock()

    def broken() -> None:
        raise ValueError("a defect")

    with pytest.raises(ValueError, match="a defect"):
        wait_out_outages(broken, 30.0, sleep=clock.sleep, clock=clock)
    assert clock.pauses == []


def test_a_zero_budget_never_waits() -> None:
    clock = FakeClock()
    _, job = flaky(failures=1)
    with pytest.raises(DependencyUnavailable):
        wait_out_outages(job, 0.0, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert clock.pauses == []
