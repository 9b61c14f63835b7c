"""Helpers shared by the tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")


def plain_dsn(url: str) -> str:
    """asyncpg's DSN for a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@dataclass(frozen=True)
class Servers:
    admin_database_url: str
    redis_url: str


async def _admin(admin_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(plain_dsn(admin_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking code that starts its own event loop (Alembic's async env)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def admin_sql(admin_url: str, *statements: str) -> None:
    in_thread(asyncio.run, _admin(admin_url, *statements))


async def put_on_sale(session_maker: Any, listing_id: str) -> None:
    """Put a listing's current revision on sale as an operator's approval would
    (test listings without images would be rejected by the rules)."""
    from catalog.models import Listing, ListingRevision

    async with session_maker() as session, session.begin():
        row = await session.get(Listing, uuid.UUID(listing_id))
        row.live_revision_id, row.status = row.current_revision_id, "approved"
        (await session.get(ListingRevision, row.current_revision_id)).status = "approved"


async def reveal_time_reached(session_maker: Any, check_id: str) -> str:
    """Move a spot check's committed reveal time to now, as if the hour had passed;
    returns the new reveal time (ISO 8601)."""
    import datetime as dt

    from mall.spotchecks.models import SpotCheck

    moment = dt.datetime.now(dt.UTC)
    async with session_maker() as session, session.begin():
        (await session.get(SpotCheck, uuid.UUID(check_id))).reveal_after = moment
    return moment.isoformat()


async def new_notification(session_maker: Any, org_id: uuid.UUID) -> uuid.UUID:
    """A notice for ``org_id`` committed through the service (its delivery job goes
    through the outbox); its id."""
    from mall.notifications import service as notifications

    async with session_maker() as session, session.begin():
        note = await notifications.notify(
            session, org_id=org_id, kind="test.notice", title_zh="测试", title_en="Test"
        )
    return note.id


async def notification_delivered(session_maker: Any, note_id: uuid.UUID) -> bool:
    """Whether the notice's delivery job has run."""
    from mall.notifications.models import Notification

    async with session_maker() as session:
        return (await session.get(Notification, note_id)).delivered_at is not None
