"""The catalogue of dishonest behaviours and the penalties applied to suppliers."""

from __future__ import annotations

import datetime as dt
import uuid

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

AREAS = ("registration", "listing", "contract", "after_sales", "price")
SANCTIONS = ("warning", "delist_listings", "suspend", "expel")
PENALTY_STATUSES = ("in_force", "expired", "revoked")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PenaltyKind(UUIDv7AuditBase):
    """One dishonest behaviour (失信行为) and what it costs: data, not code."""

    __tablename__ = "penalty_kind"
    __table_args__ = (
        CheckConstraint(_in("area", AREAS), name="area_known"),
        CheckConstraint(_in("sanction", SANCTIONS), name="sanction_known"),
        CheckConstraint("points BETWEEN 0 AND 100", name="points_range"),
        CheckConstraint(
            "(sanction = 'suspend') = (suspend_days IS NOT NULL)", name="suspend_days_iff_suspend"
        ),
        CheckConstraint("(sanction = 'expel') = (ban_years IS NOT NULL)", name="ban_iff_expel"),
    )

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(Integer)
    sanction: Mapped[str] = mapped_column(String(16))
    suspend_days: Mapped[int | None] = mapped_column(Integer, default=None)
    ban_years: Mapped[int | None] = mapped_column(Integer, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Penalty(UUIDv7AuditBase):
    """A penalty applied to a supplier, published (公示) with an appeal window."""

    __tablename__ = "penalty"
    __table_args__ = (
        CheckConstraint(_in("status", PENALTY_STATUSES), name="status_known"),
        CheckConstraint(_in("source", ("operator", "automatic")), name="source_known"),
        Index("ix_penalty_supplier", "supplier_id", "imposed_at"),
        Index("ix_penalty_status_ends", "status", "ends_at"),
        # A case penalises its respondent once for one behaviour.
        Index(
            "uq_penalty_case_code",
            "case_id",
            "code",
            unique=True,
            postgresql_where=text("case_id IS NOT NULL"),
        ),
    )

    supplier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    code: Mapped[str] = mapped_column(ForeignKey("penalty_kind.code"))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="in_force")
    # Copied from the catalogue when applied: a later catalogue change does not rewrite history.
    points: Mapped[int] = mapped_column(Integer)
    sanction: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("case_file.id"), default=None)
    operator_case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operator_case.id"), default=None
    )
    reason: Mapped[str] = mapped_column(Text)
    imposed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    imposed_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    # When a suspension or a ban ends (None: a warning or a delisting, nothing to end).
    ends_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # The end of the publication's appeal window (5 working days).
    appeal_until: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    listings_delisted: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    revoked_reason: Mapped[str | None] = mapped_column(Text, default=None)
