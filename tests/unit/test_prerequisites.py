"""CI is recognised however the CI service spells it; anything else is a local run."""

from __future__ import annotations

import pytest
from tests.prerequisites import in_ci


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", " Yes "])
def test_ci_values_that_mean_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()


@pytest.mark.parametrize("value", ["", "false", "0", "no"])
def test_other_values_are_a_local_run(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert not in_ci()
