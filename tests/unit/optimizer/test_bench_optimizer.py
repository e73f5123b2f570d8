"""The optimizer benchmark still runs end to end; its timings are not checked here."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    return importlib.import_module("bench.optimizer")


def test_bench_quick_run_reports_every_size(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--quick", "--no-gate"]) == 0

    first_columns = [row.split()[0] for row in capsys.readouterr().out.splitlines() if row]
    for size in bench.QUICK_SIZES:
        assert str(size) in first_columns


def test_bench_small_cases_meet_the_objective_targets(bench: ModuleType) -> None:
    # Speed is the benchmark's business (`make bench`): here only what load cannot change.
    results = bench.run((2, 10), seed=3, starts=2)

    assert [result.size for result in results] == [2, 10]
    assert bench.missed_objective_targets(results) == []
    for result in results:
        assert result.gap_vs_reference is not None
        assert result.ours_objective >= result.slsqp_objective * (1 - 1e-9)
        assert result.raw_slsqp_objective is not None
        assert result.ours_objective >= result.raw_slsqp_objective * (1 - 1e-9)


def test_scaled_slsqp_baseline_spends_the_budget_and_improves_on_the_even_split(
    bench: ModuleType,
) -> None:
    case = bench.make_case(20, np.random.default_rng(11))
    even = np.full(20, case.total / 20)

    allocation = bench.scaled_slsqp(case, even)

    assert allocation.sum() == pytest.approx(case.total, rel=1e-6)
    assert bench.objective(case, allocation) > bench.objective(case, even)


def test_speed_targets_are_reported_when_missed(bench: ModuleType) -> None:
    result = bench.CaseResult(
        size=50,
        ours_seconds=0.01,
        ours_objective=1.0,
        slsqp_seconds=0.05,
        slsqp_objective=1.0,
        raw_slsqp_seconds=None,
        raw_slsqp_objective=None,
        reference_objective=None,
        ours_status="optimal",
        ours_nodes=1,
    )
    slow_identical = bench.SoloResult("identical", [0.01, 0.09], ["optimal"] * 2, 0.05, "max")

    missed = bench.missed_speed_targets([result], [slow_identical])

    assert missed == [
        "50 channels: 5.00x the scaled SLSQP, target 10x",
        "identical: max 90.0 ms, target < 50 ms",
    ]
