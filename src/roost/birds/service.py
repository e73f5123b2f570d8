"""Use cases of the bird catalog: browse, search, draw a random bird, admin edits, seeding.

Database work happens in short transactions that end before any call to another service, so a
slow image service never holds a Postgres connection.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, Select, cast, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from roost.birds.catalog_data import BirdSeed
from roost.birds.errors import BirdNotFound, CatalogEmpty, DuplicateSlug
from roost.birds.image_lookup import BirdImage, ImageLookup
from roost.birds.models import BirdRow
from roost.birds.paging import (
    check_slug,
    contains_pattern,
    decode_after,
    encode_after,
    parse_bird_id,
    parse_identifier,
    slugify,
)
from roost.birds.photos import Photo, PhotoUploader
from roost.birds.schemas import BirdIn
from roost.infra.db import unit_of_work

Sessions = async_sessionmaker[AsyncSession]


@dataclass
class BirdsDeps:
    """What the birds role's routes need, built once by the role's setup."""

    sessions: Sessions
    images: ImageLookup
    photos: PhotoUploader
    max_photo_bytes: int


@dataclass(frozen=True, slots=True)
class BirdPage:
    items: list[BirdRow]
    next_cursor: str | None


async def list_birds(
    sessions: Sessions, *, limit: int, cursor: str | None = None, query: str | None = None
) -> BirdPage:
    """Birds by slug, ``limit`` at a time (keyset: stable under inserts and deletes)."""
    statement = select(BirdRow).order_by(BirdRow.slug).limit(limit + 1)
    if cursor:
        statement = statement.where(BirdRow.slug > decode_after(cursor))
    if query:
        pattern = contains_pattern(query)
        statement = statement.where(
            or_(BirdRow.common_name.ilike(pattern), BirdRow.scientific_name.ilike(pattern))
        )
    async with unit_of_work(sessions) as session:
        rows = list((await session.scalars(statement)).all())
    more = len(rows) > limit
    items = rows[:limit]
    return BirdPage(items, encode_after(items[-1].slug) if more else None)


async def find_bird(sessions: Sessions, identifier: str) -> BirdRow:
    """A bird by id or slug."""
    key = parse_identifier(identifier)
    condition = BirdRow.id == key if isinstance(key, uuid.UUID) else BirdRow.slug == key
    async with unit_of_work(sessions) as session:
        row = await session.scalar(select(BirdRow).where(condition))
    if row is None:
        raise BirdNotFound(f"no bird {identifier!r}")
    return row


async def random_bird(sessions: Sessions, exclude: str | None = None) -> BirdRow:
    """A uniformly random bird other than ``exclude`` (an id or slug), unless it is the only one.

    One statement: count the candidates, skip a random number of them along the primary key
    index, take one. Only one row leaves the database however large the catalog is.
    """
    condition: ColumnElement[bool] | None = None
    if exclude:
        key = parse_identifier(exclude)
        condition = BirdRow.id != key if isinstance(key, uuid.UUID) else BirdRow.slug != key
    async with unit_of_work(sessions) as session:
        row = await session.scalar(_random_row(condition))
        if row is None and condition is not None:
            row = await session.scalar(_random_row(None))  # the excluded bird is the only one
    if row is None:
        raise CatalogEmpty("the bird catalog is empty")
    return row


def _random_row(condition: ColumnElement[bool] | None) -> Select[BirdRow]:
    count = select(func.count()).select_from(BirdRow)
    statement = select(BirdRow)
    if condition is not None:
        count = count.where(condition)
        statement = statement.where(condition)
    skip = cast(func.floor(func.random() * count.scalar_subquery()), BigInteger)
    return statement.order_by(BirdRow.id).offset(skip).limit(1)


async def create_bird(sessions: Sessions, data: BirdIn) -> BirdRow:
    row = BirdRow(id=uuid.uuid4(), slug=_slug_of(data))
    _apply(row, data)
    async with unit_of_work(sessions) as session:
        session.add(row)
        await _flush_or_conflict(session, row.slug)
        await session.refresh(row)
    return row


async def replace_bird(sessions: Sessions, bird_id: str, data: BirdIn) -> BirdRow:
    """Replace every editable field; an omitted slug keeps the current one."""
    key = parse_bird_id(bird_id)
    async with unit_of_work(sessions) as session:
        row = await session.get(BirdRow, key, with_for_update=True)
        if row is None:
            raise BirdNotFound(f"no bird {bird_id!r}")
        if data.slug is not None:
            row.slug = check_slug(data.slug)
        _apply(row, data)
        await _flush_or_conflict(session, row.slug)
        await session.refresh(row)
    return row


async def delete_bird(sessions: Sessions, bird_id: str) -> None:
    key = parse_bird_id(bird_id)
    async with unit_of_work(sessions) as session:
        row = await session.get(BirdRow, key)
        if row is None:
            raise BirdNotFound(f"no bird {bird_id!r}")
        await session.delete(row)


async def attach_photo(
    sessions: Sessions, uploader: PhotoUploader, bird_id: str, photo: Photo
) -> BirdRow:
    """Send ``photo`` through the thumbnails pipeline and remember its image id on the bird."""
    key = parse_bird_id(bird_id)
    async with unit_of_work(sessions) as session:
        if await session.get(BirdRow, key) is None:
            raise BirdNotFound(f"no bird {bird_id!r}")
    image_id = await uploader.upload(photo)
    async with unit_of_work(sessions) as session:
        row = await session.get(BirdRow, key, with_for_update=True)
        if row is None:  # deleted while the upload ran
            raise BirdNotFound(f"no bird {bird_id!r}")
        row.image_ref = image_id
        await session.flush()
        await session.refresh(row)
    return row


async def with_images(images: ImageLookup, rows: Sequence[BirdRow]) -> list[BirdImage]:
    """Each bird's image, looked up concurrently (a page costs one budget, not one per bird)."""
    return list(await asyncio.gather(*(images.image_for(row.slug, row.image_ref) for row in rows)))


async def seed_catalog(sessions: Sessions, seeds: Iterable[BirdSeed]) -> int:
    """Insert the seed species that are missing (by slug); returns how many were added.

    Existing rows are left alone, so an admin's edits survive every re-seed; a seed species an
    admin deleted comes back on the next seed (retire it in ``catalog_data`` instead).
    """
    values = [
        {
            "id": uuid.uuid4(),
            "slug": seed.slug,
            "common_name": seed.common_name,
            "scientific_name": seed.scientific_name,
            "description": seed.description,
            "region": seed.region,
        }
        for seed in seeds
    ]
    if not values:
        return 0
    statement = (
        insert(BirdRow)
        .values(values)
        .on_conflict_do_nothing(index_elements=[BirdRow.slug])
        .returning(BirdRow.id)
    )
    async with unit_of_work(sessions) as session:
        return len((await session.scalars(statement)).all())


def _slug_of(data: BirdIn) -> str:
    return check_slug(data.slug if data.slug is not None else slugify(data.name))


def _apply(row: BirdRow, data: BirdIn) -> None:
    row.common_name = data.name
    row.scientific_name = data.scientific_name
    row.description = data.description
    row.region = data.region


async def _flush_or_conflict(session: AsyncSession, slug: str) -> None:
    try:
        await session.flush()
    except IntegrityError as error:
        if "uq_birds_slug" in str(error.orig):
            raise DuplicateSlug(f"a bird with slug {slug!r} already exists") from None
        raise
