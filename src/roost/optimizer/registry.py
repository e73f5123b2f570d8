"""The model registry: named, versioned sets of channel response curves in Postgres.

A version's content is its canonical channel list (channels sorted by name, every number a
float), and its checksum is the SHA-256 of that list as canonical JSON. Registering content a
name already has returns the existing version; different content becomes the next version.
Registrations of one name are serialised by a transaction-scoped advisory lock, so two
concurrent uploads can neither both take version N nor both store the same content.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from roost.optimizer.curves import Channel
from roost.optimizer.errors import InvalidCurve, OptimizerError
from roost.optimizer.models import ResponseModelRow

MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
CHANNEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,63}$"
_MODEL_NAME = re.compile(MODEL_NAME_PATTERN)


class ModelNotFound(OptimizerError):
    code = "model_not_found"
    http_status = 404


class ModelVersionNotFound(OptimizerError):
    code = "model_version_not_found"
    http_status = 404


class NoActiveVersion(OptimizerError):
    code = "no_active_version"
    http_status = 409


class InvalidModel(OptimizerError):
    """A model's channel list is malformed; ``field`` points into the request body."""

    code = "invalid_model"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field

    def details(self) -> Any:
        return {"field": self.field}


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    status: str
    description: str
    checksum: str
    created_at: datetime
    created_by: str | None
    channels: tuple[Channel, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "description": self.description,
            "checksum": self.checksum,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "channels": canonical_channels(self.channels),
        }


@dataclass(frozen=True)
class ModelSummary:
    name: str
    latest_version: int
    active_version: int | None
    versions: int
    status: str
    description: str
    channels: list[str]
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "latest_version": self.latest_version,
            "active_version": self.active_version,
            "versions": self.versions,
            "status": self.status,
            "description": self.description,
            "channels": self.channels,
            "updated_at": self.updated_at.isoformat(),
        }


# --------------------------------------------------------------------------------------------
# Pure: parsing, canonical form, checksum
# --------------------------------------------------------------------------------------------


def parse_channels(raw: Sequence[Mapping[str, Any]]) -> tuple[Channel, ...]:
    """Validate every curve with :mod:`curves`, naming the channel and field that is wrong."""
    channels: list[Channel] = []
    seen: set[str] = set()
    for position, item in enumerate(raw):
        label = item.get("name") if isinstance(item, Mapping) else None
        where = f"channels[{position}]"
        try:
            channel = Channel.from_dict(item)
        except InvalidCurve as error:
            named = f" ({label})" if isinstance(label, str) else ""
            raise InvalidModel(
                f"{where}{named}: {error.message}", field=f"{where}.{error.parameter}"
            ) from None
        if channel.name in seen:
            raise InvalidModel(
                f"{where}: channel {channel.name!r} appears twice", field=f"{where}.name"
            )
        seen.add(channel.name)
        channels.append(channel)
    if not channels:
        raise InvalidModel("a model needs at least one channel", field="channels")
    return tuple(sorted(channels, key=lambda channel: channel.name))


def canonical_channels(channels: Sequence[Channel]) -> list[dict[str, Any]]:
    return [channel.to_dict() for channel in sorted(channels, key=lambda c: c.name)]


def checksum_of(channels: Sequence[Channel]) -> str:
    encoded = json.dumps(
        canonical_channels(channels), sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(encoded.encode()).hexdigest()


def _version_of(row: ResponseModelRow) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        status=row.status,
        description=row.description,
        checksum=row.checksum,
        created_at=row.created_at,
        created_by=row.created_by,
        channels=tuple(Channel.from_dict(item) for item in row.channels),
    )


# --------------------------------------------------------------------------------------------
# Use cases
# --------------------------------------------------------------------------------------------


async def register_model(
    session: AsyncSession,
    *,
    name: str,
    description: str,
    channels: Sequence[Channel],
    created_by: str | None,
) -> tuple[ModelVersion, bool]:
    """Store ``channels`` as the next version of ``name``: (version, created)."""
    checksum = checksum_of(channels)
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"roost:optimizer:model:{name}"},
    )
    existing = await session.scalar(
        select(ResponseModelRow).where(
            ResponseModelRow.name == name, ResponseModelRow.checksum == checksum
        )
    )
    if existing is not None:
        return _version_of(existing), False
    latest = await session.scalar(
        select(func.max(ResponseModelRow.version)).where(ResponseModelRow.name == name)
    )
    row = ResponseModelRow(
        name=name,
        version=(latest or 0) + 1,
        status="active",
        description=description,
        channels=canonical_channels(channels),
        checksum=checksum,
        created_by=created_by,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.flush()
    return _version_of(row), True


async def list_models(
    session: AsyncSession, *, limit: int, after: str | None = None
) -> list[ModelSummary]:
    """One summary per model name (its latest version), by name, after ``after``."""
    active_version = func.max(ResponseModelRow.version).filter(ResponseModelRow.status == "active")
    stats = (
        select(
            ResponseModelRow.name.label("name"),
            func.max(ResponseModelRow.version).label("latest"),
            func.count().label("versions"),
            active_version.label("active"),
        )
        .group_by(ResponseModelRow.name)
        .subquery()
    )
    query = (
        select(ResponseModelRow, stats.c.versions, stats.c.active)
        .join(
            stats,
            and_(ResponseModelRow.name == stats.c.name, ResponseModelRow.version == stats.c.latest),
        )
        .order_by(ResponseModelRow.name)
        .limit(limit)
    )
    if after is not None:
        query = query.where(ResponseModelRow.name > after)
    rows = (await session.execute(query)).all()
    return [
        ModelSummary(
            name=row.name,
            latest_version=row.version,
            active_version=active,
            versions=versions,
            status=row.status,
            description=row.description,
            channels=[item["name"] for item in row.channels],
            updated_at=row.created_at,
        )
        for row, versions, active in rows
    ]


async def model_versions(session: AsyncSession, name: str) -> list[ModelVersion]:
    _check_name(name)
    rows = (
        await session.scalars(
            select(ResponseModelRow)
            .where(ResponseModelRow.name == name)
            .order_by(ResponseModelRow.version)
        )
    ).all()
    if not rows:
        raise ModelNotFound(f"no model named {name!r}")
    return [_version_of(row) for row in rows]


async def resolve_model(session: AsyncSession, name: str, version: int | None) -> ModelVersion:
    """That exact version (even archived: old results stay reproducible), else the latest
    active one."""
    _check_name(name)
    query = select(ResponseModelRow).where(ResponseModelRow.name == name)
    if version is not None:
        row = await session.scalar(query.where(ResponseModelRow.version == version))
    else:
        row = await session.scalar(
            query.where(ResponseModelRow.status == "active")
            .order_by(ResponseModelRow.version.desc())
            .limit(1)
        )
    if row is not None:
        return _version_of(row)
    exists = await session.scalar(select(func.count()).select_from(query.subquery()))
    if not exists:
        raise ModelNotFound(f"no model named {name!r}")
    if version is not None:
        raise ModelVersionNotFound(f"model {name!r} has no version {version}")
    raise NoActiveVersion(f"every version of model {name!r} is archived")


async def set_status(session: AsyncSession, name: str, version: int, status: str) -> ModelVersion:
    _check_name(name)
    row = await session.scalar(
        select(ResponseModelRow)
        .where(ResponseModelRow.name == name, ResponseModelRow.version == version)
        .with_for_update()
    )
    if row is None:
        await model_versions(session, name)  # raises ModelNotFound for an unknown name
        raise ModelVersionNotFound(f"model {name!r} has no version {version}")
    row.status = status
    await session.flush()
    return _version_of(row)


def _check_name(name: str) -> None:
    # A name no model can have is simply not found; asking Postgres would fail on some of
    # them (a NUL byte is not valid text there) instead of answering 404.
    if not _MODEL_NAME.fullmatch(name):
        raise ModelNotFound(f"no model named {name!r}")
