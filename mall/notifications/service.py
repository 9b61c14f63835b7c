"""Sending and reading notifications.

``notify`` writes the notification and an outbox job in the caller's
transaction; the job delivers it (in-app now; e-mail or SMS adapters are
called from the same job when configured).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mall.auth.principal import Principal
from mall.errors import NotFoundError
from mall.jobs.outbox import enqueue_job
from mall.notifications.models import Notification

log = structlog.get_logger("mall.notifications")

DELIVER_JOB = "deliver_notification"


async def notify(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    kind: str,
    title_zh: str,
    title_en: str,
    body_zh: str = "",
    body_en: str = "",
    user_id: uuid.UUID | None = None,
    subject: tuple[str, object] | None = None,
) -> Notification:
    note = Notification(
        org_id=org_id,
        user_id=user_id,
        kind=kind,
        title_zh=title_zh,
        title_en=title_en,
        body_zh=body_zh,
        body_en=body_en,
        subject_type=subject[0] if subject else None,
        subject_id=str(subject[1]) if subject else None,
    )
    session.add(note)
    await session.flush()
    await enqueue_job(session, DELIVER_JOB, key=note.id, notification_id=str(note.id))
    return note


async def deliver(session: AsyncSession, notification_id: uuid.UUID) -> bool:
    """Mark delivered once; returns False when it was delivered already."""
    result = await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.delivered_at.is_(None))
        .values(delivered_at=dt.datetime.now(dt.UTC))
        .returning(Notification.kind, Notification.org_id)
    )
    row = result.first()
    if row is None:
        exists = await session.get(Notification, notification_id)
        if exists is None:
            raise NotFoundError(
                f"notification {notification_id} does not exist", code="notification.not_found"
            )
        return False
    log.info(
        "notification.delivered",
        notification_id=str(notification_id),
        kind=row.kind,
        channel="in_app",
    )
    return True


def _visible_to(principal: Principal):  # type: ignore[no-untyped-def]
    return (Notification.org_id == principal.org_id) & or_(
        Notification.user_id.is_(None), Notification.user_id == principal.user_id
    )


async def list_for(
    session: AsyncSession,
    principal: Principal,
    *,
    unread_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> Sequence[Notification]:
    query = select(Notification).where(_visible_to(principal))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    query = query.limit(limit).offset(offset)
    return (await session.execute(query)).scalars().all()


async def mark_read(
    session: AsyncSession, principal: Principal, notification_id: uuid.UUID
) -> Notification:
    note = (
        await session.execute(
            select(Notification).where(Notification.id == notification_id, _visible_to(principal))
        )
    ).scalar_one_or_none()
    if note is None:
        raise NotFoundError(
            "No such notification.", code="notification.not_found", title="通知不存在"
        )
    if note.read_at is None:
        note.read_at = dt.datetime.now(dt.UTC)
    return note
