"""SLA clocks and the intervals they were paused."""

from __future__ import annotations

import datetime as dt
import uuid

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column


class SlaClock(UUIDv7AuditBase):
    """A promise in working days about one subject (an application, an order, a case)."""

    __tablename__ = "sla_clock"
    __table_args__ = (
        Index("uq_sla_clock_subject_kind", "subject_type", "subject_id", "kind", unique=True),
        # The sweep's index: only clocks that can still breach.
        Index(
            "ix_sla_clock_open_due",
            "due_at",
            postgresql_where=text(
                "met_at IS NULL AND breached_at IS NULL AND paused_since IS NULL"
            ),
        ),
        Index(
            "ix_sla_clock_provisional",
            "id",
            postgresql_where=text("provisional AND met_at IS NULL"),
        ),
        Index("ix_sla_clock_kind_started", "kind", "started_at"),
        CheckConstraint("working_days BETWEEN 0 AND 365", name="working_days_range"),
    )

    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(50))
    # The organisation that must act before the due time (told when it is missed).
    responsible_org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisation.id"), default=None
    )
    started_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    working_days: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_since: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    paused_working_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    met_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    breached_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )


class SlaClockPause(UUIDv7AuditBase):
    """One interval during which a clock stood still (waiting on the other party)."""

    __tablename__ = "sla_clock_pause"

    clock_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sla_clock.id", ondelete="CASCADE"), index=True
    )
    paused_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    resumed_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    reason: Mapped[str] = mapped_column(String(200))
    working_days: Mapped[int | None] = mapped_column(Integer, default=None)
