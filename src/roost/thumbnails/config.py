"""What every thumbnails use case is given: its settings, its sessions, its way to enqueue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roost.infra import dead_letters
from roost.thumbnails.imaging import ImagingLimits, OutputFormat
from roost.thumbnails.presets import Presets

Sessions = async_sessionmaker[AsyncSession]
# queue name, actor name, args, kwargs -> the enqueued message's id
SendJob = dead_letters.SendJob


@dataclass(frozen=True)
class ThumbnailsConfig:
    presets: Presets
    limits: ImagingLimits
    output_format: OutputFormat
    quality: int
    queue_name: str
    cache_seconds: int
