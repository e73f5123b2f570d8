"""The types of the suite's shared fixtures, named once so test signatures stay short.

pytest injects fixtures by parameter name and mypy cannot see that link, so a test states the
type its fixture returns; these aliases are those return types (see tests/conftest.py and the
domain conftests), kept in one place so a fixture's type changes in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeAlias

import httpx

from roost.core.settings import Settings

#: ``async with serve_asgi(app) as client``: the app's lifespan and an in-process client.
ServeAsgi: TypeAlias = Callable[[Any], AbstractAsyncContextManager[httpx.AsyncClient]]
#: ``make_settings(**overrides)``: the suite's settings for one test.
MakeSettings: TypeAlias = Callable[..., Settings]
#: ``token_for(*scopes, subject=…)``: headers with a JWT the suite's settings accept.
TokenFor: TypeAlias = Callable[..., dict[str, str]]
#: ``async with optimizer_client(**settings) as client``: the optimizer role in-process.
OptimizerClient: TypeAlias = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
#: ``async with platform(settings) as (api, worker)``: thumbnails API and in-process worker
#: (``worker`` is None when started with ``worker=False``).
ThumbnailsPlatform: TypeAlias = Callable[
    ..., AbstractAsyncContextManager[tuple[httpx.AsyncClient, httpx.AsyncClient | None]]
]
