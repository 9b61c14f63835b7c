"""Supplier applications, commitment acceptances, qualification documents,
credit-list entries, and operator cases opened by automatic checks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

APPLICATION_STATUSES = ("submitted", "info_requested", "approved", "rejected")
DOCUMENT_KINDS = (
    "business_licence",
    "financial_report",
    "tax_payment_proof",
    "social_security_proof",
)
CREDIT_LIST_TYPES = (
    "gov_procurement_serious_violation",
    "dishonest_judgment_debtor",
    "major_tax_violation",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class SupplierApplication(UUIDv7AuditBase):
    """An online application to join the mall (入驻申请)."""

    __tablename__ = "supplier_application"
    __table_args__ = (
        CheckConstraint(_in("status", APPLICATION_STATUSES), name="status_known"),
        CheckConstraint(
            _in("business_type", ("enterprise", "individual_business", "other")),
            name="business_type_known",
        ),
        Index("ix_supplier_application_status", "status", "submitted_at"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    company_name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18))
    region_code: Mapped[str] = mapped_column(String(6))
    in_region: Mapped[bool] = mapped_column(Boolean)
    business_type: Mapped[str] = mapped_column(String(24))
    legal_representative: Mapped[str] = mapped_column(String(100))
    contact_name: Mapped[str] = mapped_column(String(100))
    contact_mobile: Mapped[str] = mapped_column(String(20))
    categories: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    granted_categories: Mapped[list[str] | None] = mapped_column(ARRAY(String(32)), default=None)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    rejection_codes: Mapped[list[str] | None] = mapped_column(ARRAY(String(64)), default=None)
    rejection_reason: Mapped[str | None] = mapped_column(Text, default=None)
    info_request: Mapped[str | None] = mapped_column(Text, default=None)
    # The credit-list entry that rejected the application automatically, if any.
    credit_hit: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)


class CommitmentAcceptance(UUIDv7AuditBase):
    """The signed commitment letter (承诺书): which text, when, from where, by whom."""

    __tablename__ = "commitment_acceptance"

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("supplier_application.id"), index=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    version: Mapped[str] = mapped_column(String(20))
    text_sha256: Mapped[str] = mapped_column(String(64))
    signer_name: Mapped[str] = mapped_column(String(100))
    accepted_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    client_address: Mapped[str] = mapped_column(String(64))


class SupplierDocument(UUIDv7AuditBase):
    """A qualification document, submitted once and valid for the year (一次提交, 全年有效)."""

    __tablename__ = "supplier_document"
    __table_args__ = (
        CheckConstraint(_in("kind", DOCUMENT_KINDS), name="kind_known"),
        CheckConstraint("valid_from <= valid_until", name="validity_ordered"),
        CheckConstraint(
            _in("media_type", ("application/pdf", "image/jpeg", "image/png")),
            name="media_type_known",
        ),
        Index("ix_supplier_document_org_kind", "org_id", "kind"),
        Index(
            "ix_supplier_document_valid_until",
            "valid_until",
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    kind: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    original_name: Mapped[str] = mapped_column(String(255))
    # The first day the document counts: the date the supplier states (issue
    # date), else the day it was uploaded (Beijing time).
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    uploaded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    # Set when a newer document of the same kind replaces this one.
    superseded_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    reminded_30_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    reminded_7_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )


class CreditListEntry(UUIDv7AuditBase):
    """An entity on a dishonesty list (失信名单), as imported by operators."""

    __tablename__ = "credit_list_entry"
    __table_args__ = (
        CheckConstraint(_in("list_type", CREDIT_LIST_TYPES), name="list_type_known"),
        UniqueConstraint("uscc", "list_type", "listed_on", name="uq_credit_list_entry"),
    )

    uscc: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(String(200))
    list_type: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(500))
    listed_on: Mapped[dt.date] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date, default=None)


class OperatorCase(UUIDv7AuditBase):
    """A matter for an operator to handle, opened by an automatic check."""

    __tablename__ = "operator_case"
    __table_args__ = (Index("ix_operator_case_status", "status", "created_at"),)

    case_type: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open")
    summary_zh: Mapped[str] = mapped_column(Text)
    summary_en: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
