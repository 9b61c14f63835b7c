"""Organisations, their users, and API tokens for system integrations."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from advanced_alchemy.base import UUIDv7AuditBase, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship


class OrgKind(StrEnum):
    """Who an organisation is in the mall."""

    SUPPLIER = "supplier"  # 供应商
    PURCHASER = "purchaser"  # 采购单位
    OPERATOR = "operator"  # 运营管理机构
    REGULATOR = "regulator"  # 财政监管部门


class OrgStatus(StrEnum):
    PENDING = "pending"  # registered, awaiting verification
    ACTIVE = "active"
    SUSPENDED = "suspended"  # trading suspended until a time (penalty, credit-list hit)
    EXPELLED = "expelled"  # expelled and banned until a time
    WITHDRAWN = "withdrawn"  # left the mall of its own accord
    REJECTED = "rejected"  # its application was rejected


class Organisation(UUIDv7AuditBase):
    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('supplier', 'purchaser', 'operator', 'regulator')", name="kind_known"
        ),
        CheckConstraint(
            "status IN ('pending', 'active', 'suspended', 'expelled', 'withdrawn', 'rejected')",
            name="status_known",
        ),
        UniqueConstraint("kind", "name", name="uq_organisation_kind_name"),
        Index(
            "uq_organisation_uscc", "uscc", unique=True, postgresql_where=text("uscc IS NOT NULL")
        ),
    )

    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=OrgStatus.ACTIVE.value)
    # 统一社会信用代码, for suppliers and purchasing units.
    uscc: Mapped[str | None] = mapped_column(String(18), default=None)
    region_code: Mapped[str | None] = mapped_column(String(6), default=None)
    verified_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    # "online" after an operator verified the application; "offline" when migrated.
    verification_channel: Mapped[str | None] = mapped_column(String(16), default=None)
    # Suppliers: the annual qualification documents hold until this day.
    qualified_until: Mapped[dt.date | None] = mapped_column(Date, default=None)
    # Suppliers: may list in every category (else only those in supplier_category).
    all_categories: Mapped[bool] = mapped_column(Boolean, default=False)
    # Suppliers: enterprise, individual_business (个体工商户) or other; registered in the region.
    business_type: Mapped[str | None] = mapped_column(String(24), default=None)
    in_region: Mapped[bool | None] = mapped_column(Boolean, default=None)
    # Standing: why it changed, and until when a suspension or a ban lasts.
    status_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    status_until: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )

    users: Mapped[list[User]] = relationship(back_populates="organisation", lazy="noload")


supplier_category = Table(
    "supplier_category",
    orm_registry.metadata,
    Column("org_id", ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True),
    Column("category_code", String(32), primary_key=True),
)


class User(UUIDv7AuditBase):
    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower"),
        UniqueConstraint("email", name="uq_app_user_email"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(100), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    # Carried in every access token; a password change adds one, so that every
    # token issued before it stops working.
    token_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    organisation: Mapped[Organisation] = relationship(back_populates="users", lazy="joined")


class ApiToken(UUIDv7AuditBase):
    """A long-lived bearer token for a supplier's (or operator's) own systems.

    Only the SHA-256 of the secret is stored; the secret is shown once.
    """

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_token_hash"),)

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    name: Mapped[str] = mapped_column(String(100))
    token_prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


# Access tokens signed out before they expire, by their ``jti``; a row can go
# once the token would have expired anyway.
revoked_access_token = Table(
    "revoked_access_token",
    orm_registry.metadata,
    Column("jti", String(64), primary_key=True),
    Column("user_id", ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", DateTimeUTC(timezone=True), nullable=False, index=True),
    Column("revoked_at", DateTimeUTC(timezone=True), nullable=False),
)
