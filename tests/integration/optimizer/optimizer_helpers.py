"""Bodies and curves shared by the optimizer's integration tests."""

from __future__ import annotations

from typing import Any

CLASSIC_BODY = {"budget": {"tv": 100000, "digital": 200000}, "constraints": {"total": 300000}}


def hill(name: str, vmax: float, k: float, slope: float, adstock: float = 0.0) -> dict[str, Any]:
    return {
        "name": name,
        "curve": {"type": "hill", "params": {"vmax": vmax, "k": k, "slope": slope}},
        "adstock": adstock,
    }
