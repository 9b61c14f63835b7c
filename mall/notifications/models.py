from __future__ import annotations

import datetime as dt
import uuid

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column


class Notification(UUIDv7AuditBase):
    """A message for an organisation (``user_id`` empty) or one of its users."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_org_created", "org_id", "created_at"),
        Index("ix_notification_undelivered", "id", postgresql_where=text("delivered_at IS NULL")),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    kind: Mapped[str] = mapped_column(String(64))
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    body_zh: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    subject_type: Mapped[str | None] = mapped_column(String(50), default=None)
    subject_id: Mapped[str | None] = mapped_column(String(64), default=None)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    read_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
