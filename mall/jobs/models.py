"""The transactional outbox: a job is a row committed with the change that wants it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from advanced_alchemy.base import IdentityBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column


class OutboxJob(IdentityBase):
    __tablename__ = "job_outbox"
    __table_args__ = (
        # While undelivered, a deterministic job id is wanted once.
        Index(
            "uq_job_outbox_pending_job_id",
            "job_id",
            unique=True,
            postgresql_where=text("enqueued_at IS NULL"),
        ),
        Index("ix_job_outbox_pending", "id", postgresql_where=text("enqueued_at IS NULL")),
    )

    job_name: Mapped[str] = mapped_column(String(100))
    job_id: Mapped[str] = mapped_column(String(200))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTimeUTC(timezone=True), server_default=func.now()
    )
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class FailedJob(IdentityBase):
    """A job that failed for good: its error was not transient, its tries ran
    out, or arq could not run it. Operators list them (``mall jobs failed``)."""

    __tablename__ = "failed_job"
    __table_args__ = (
        Index("ix_failed_job_failed_at", "failed_at"),
        Index("ix_failed_job_job_id", "job_id"),
    )

    job_id: Mapped[str] = mapped_column(String(300))
    job_name: Mapped[str] = mapped_column(String(100))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    tries: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[dt.datetime] = mapped_column(
        DateTimeUTC(timezone=True), server_default=func.now()
    )
