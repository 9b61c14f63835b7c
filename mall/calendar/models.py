"""Calendar years loaded by operators."""

from __future__ import annotations

import datetime as dt
import uuid

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Sequence,
    SmallInteger,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

calendar_revision = Sequence("calendar_revision_seq", metadata=orm_registry.metadata)


class CalendarYear(UUIDv7AuditBase):
    """An operator-loaded (or overridden) official schedule for one year."""

    __tablename__ = "calendar_year"
    __table_args__ = (CheckConstraint("year BETWEEN 1990 AND 2200", name="year_range"),)

    year: Mapped[int] = mapped_column(SmallInteger, unique=True)
    holidays: Mapped[list[dt.date]] = mapped_column(ARRAY(Date))
    workdays: Mapped[list[dt.date]] = mapped_column(ARRAY(Date))
    source: Mapped[str] = mapped_column(Text)
    # Increases on every change, so every process can tell its copy is stale.
    revision: Mapped[int] = mapped_column(
        BigInteger, calendar_revision, server_default=calendar_revision.next_value()
    )
    loaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), default=None)
