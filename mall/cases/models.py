"""Cases (objections, reports, disputes), their message thread and attachments."""

from __future__ import annotations

import datetime as dt
import uuid

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

CASE_TYPES = ("objection", "report", "dispute")
CASE_STATUSES = (
    "submitted",
    "accepted",
    "investigating",
    "upheld",
    "dismissed",
    "withdrawn",
    "closed",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Case(UUIDv7AuditBase):
    """An objection (异议), a public report (举报) or a dispute (争议) for operators."""

    __tablename__ = "case_file"
    __table_args__ = (
        CheckConstraint(_in("case_type", CASE_TYPES), name="case_type_known"),
        CheckConstraint(_in("status", CASE_STATUSES), name="status_known"),
        Index("ix_case_file_status", "status", "created_at"),
        Index("ix_case_file_subject", "subject_type", "subject_id"),
        Index("ix_case_file_filer_org", "filer_org_id"),
        Index("ix_case_file_respondent", "respondent_org_id"),
        Index(
            "uq_case_file_tracking_code",
            "tracking_code_sha256",
            unique=True,
            postgresql_where=text("tracking_code_sha256 IS NOT NULL"),
        ),
        # At most one open objection per subject (the filing's pre-check races).
        Index(
            "uq_case_file_open_objection",
            "subject_type",
            "subject_id",
            unique=True,
            postgresql_where=text(
                "case_type = 'objection' AND status IN ('submitted', 'accepted', 'investigating')"
            ),
        ),
    )

    case_type: Mapped[str] = mapped_column(String(16))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    claim: Mapped[str] = mapped_column(Text)
    # An anonymous report stores no identity at all; the tracking code is its only handle.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    filer_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    filer_org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisation.id"), default=None
    )
    # The party the case is against (the reported supplier, the penalised supplier…).
    respondent_org_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisation.id"), default=None
    )
    # Only the SHA-256 of the tracking code is kept; the code is shown once.
    tracking_code_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    filed_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    accepted_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    decision_note: Mapped[str | None] = mapped_column(Text, default=None)
    # What an upheld objection reversed, or the penalty an upheld report led to.
    outcome: Mapped[dict[str, object]] = mapped_column(JSONB, default=dict)


class CaseMessage(UUIDv7AuditBase):
    """One message in a case's thread. ``role`` says which party wrote it."""

    __tablename__ = "case_message"
    __table_args__ = (
        CheckConstraint(_in("role", ("filer", "respondent", "operator", "system")), name="role"),
        CheckConstraint(_in("visibility", ("parties", "operators")), name="visibility_known"),
        Index("ix_case_message_case", "case_id", "created_at"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    # "operators": an internal note the parties never see.
    visibility: Mapped[str] = mapped_column(String(16), default="parties")
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id"), default=None
    )
    body: Mapped[str] = mapped_column(Text)


class CaseAttachment(UUIDv7AuditBase):
    """Evidence for a case (PDF, JPEG or PNG), stored under its SHA-256."""

    __tablename__ = "case_attachment"
    __table_args__ = (
        CheckConstraint(_in("role", ("filer", "respondent", "operator")), name="role"),
        CheckConstraint(
            _in("media_type", ("application/pdf", "image/jpeg", "image/png")),
            name="media_type_known",
        ),
        Index("ix_case_attachment_case", "case_id"),
    )

    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("case_file.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    original_name: Mapped[str] = mapped_column(String(255))
