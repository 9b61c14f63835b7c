"""A user's notifications: its own and its organisation's."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery

from mall.api.deps import DbSession
from mall.api.params import Page, Paging
from mall.auth.guards import current_principal, signed_in
from mall.notifications import service
from mall.notifications.models import Notification


class NotificationOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    subject_type: str | None
    subject_id: str | None
    created_at: dt.datetime
    read_at: dt.datetime | None


def _out(n: Notification) -> NotificationOut:
    return NotificationOut(
        id=n.id,
        kind=n.kind,
        title_zh=n.title_zh,
        title_en=n.title_en,
        body_zh=n.body_zh,
        body_en=n.body_en,
        subject_type=n.subject_type,
        subject_id=n.subject_id,
        created_at=n.created_at,
        read_at=n.read_at,
    )


class NotificationController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]
    guards = [signed_in]

    @get("/", summary="Your notifications, newest first")
    async def list_notifications(
        self,
        request: Request,
        db_session: DbSession,
        pagination: Paging,
        unread_only: FromQuery[bool] = False,
    ) -> Page[NotificationOut]:
        """Notices to the user and to their organisation, newest first, paged; `unread_only` keeps
        the unread ones.
        """
        rows = await service.list_for(
            db_session,
            current_principal(request),
            unread_only=unread_only,
            limit=pagination.limit,
            offset=pagination.offset,
        )
        return pagination.page_of([_out(n) for n in rows])

    @post("/{notification_id:uuid}/read", status_code=200, summary="Mark a notification read")
    async def mark_read(
        self, request: Request, notification_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> NotificationOut:
        """Marks one of the caller's notifications read and answers it."""
        return _out(
            await service.mark_read(db_session, current_principal(request), notification_id)
        )
