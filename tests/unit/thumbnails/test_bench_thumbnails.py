"""The thumbnails benchmark still runs end to end (its numbers are not checked here)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_bench_quick_run_completes_and_prints_every_method(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(REPO_ROOT))
    bench = importlib.import_module("bench.thumbnails")

    assert bench.main(["--quick", "--no-gate", "--no-pipeline"]) == 0

    rows = capsys.readouterr().out.splitlines()
    for source in bench.SOURCES:
        for method in bench.METHODS:
            assert any(row.startswith(source) and f" {method} " in row for row in rows)
    assert any("roost / draft + cascade" in row for row in rows)
