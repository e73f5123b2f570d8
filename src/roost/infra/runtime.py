"""Where a running ``roost up`` left its backends, so other CLI commands can find them.

``roost up`` writes ``<data_dir>/runtime.json`` with the URLs of the embedded Postgres and
Redis; ``roost maintenance``, ``roost migrate`` and friends read it when no URL is configured.
"""

from __future__ import annotations

import json
from pathlib import Path

from roost.core.settings import Settings

RUNTIME_FILE = "runtime.json"
URL_FIELDS = ("database_url", "redis_url", "broker_url", "storage_url")


def write_runtime(data_dir: Path, urls: dict[str, str]) -> Path:
    path = data_dir / RUNTIME_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(urls, indent=2))
    temporary.replace(path)
    return path


def read_runtime(data_dir: Path) -> dict[str, str]:
    path = data_dir / RUNTIME_FILE
    if not path.is_file():
        return {}
    loaded = json.loads(path.read_text())
    return {k: v for k, v in loaded.items() if k in URL_FIELDS and isinstance(v, str)}


def clear_runtime(data_dir: Path) -> None:
    (data_dir / RUNTIME_FILE).unlink(missing_ok=True)


def with_runtime_urls(settings: Settings) -> Settings:
    """Fill unset backend URLs from a running ``roost up``; configured URLs always win."""
    found = read_runtime(settings.data_dir)
    missing = {k: v for k, v in found.items() if getattr(settings, k) is None}
    return settings.model_copy(update=missing) if missing else settings
