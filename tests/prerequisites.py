"""What a test needs from the machine: a missing one skips locally and fails in CI.

In CI (``CI=true``) a green run that silently tested less is worse than a red one, so every
"not here" goes through :func:`missing`.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """CI services set ``CI`` to ``true``, ``1`` or ``yes`` (any case)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def missing(message: str) -> NoReturn:
    """Fail in CI; skip only on a developer's machine."""
    if in_ci():
        pytest.fail(f"{message} (CI requires it)")
    else:
        pytest.skip(message)


def require_executable(name: str, provided_by: str) -> str:
    """The path of ``name`` on PATH; ``provided_by`` says where it comes from."""
    path = shutil.which(name)
    if path is None:
        missing(f"{name} not installed ({provided_by})")
    return path
