"""The optimizer benchmark still runs end to end; its timings are not checked here."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

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
    results = bench.run((2, 10), seed=3, starts=2)

    assert [result.size for result in results] == [2, 10]
    assert bench.missed_targets(results) == []
    for result in results:
        assert result.gap_vs_reference is not None
        assert result.ours_objective >= result.slsqp_objective * (1 - 1e-9)
