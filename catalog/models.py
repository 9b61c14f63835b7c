"""Categories, listings and their revisions, images, review decisions, rulesets."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

LISTING_STATUSES = ("draft", "submitted", "approved", "rejected", "manual_review", "delisted")
REVISION_STATUSES = (
    "draft",
    "submitted",
    "approved",
    "rejected",
    "manual_review",
    "superseded",
    "withdrawn",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Category(UUIDv7AuditBase):
    """A procurement catalogue item (品目) with its attribute schema and policies."""

    __tablename__ = "category"
    __table_args__ = (UniqueConstraint("code", name="uq_category_code"),)

    code: Mapped[str] = mapped_column(String(32))
    parent_code: Mapped[str | None] = mapped_column(String(32), default=None)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    # [{"name","type","unit","required","allowed_values","min","max","pattern"}]
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    energy_cert_mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    environmental_label_preferred: Mapped[bool] = mapped_column(Boolean, default=False)
    usual_units: Mapped[list[str]] = mapped_column(ARRAY(String(8)), default=list)
    min_image_side_px: Mapped[int | None] = mapped_column(Integer, default=None)
    price_tolerance_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    # The baseline policy (pricing_monitor.BaselinePolicy as JSON; none: the default) and its key.
    price_policy: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    price_policy_key: Mapped[str] = mapped_column(
        String(16), default="default", server_default="default"
    )
    listable: Mapped[bool] = mapped_column(Boolean, default=True)


class Listing(UUIDv7AuditBase):
    """A supplier's offer. Its content lives in revisions; one may be live."""

    __tablename__ = "listing"
    __table_args__ = (
        CheckConstraint(_in("status", LISTING_STATUSES), name="status_known"),
        Index("ix_listing_supplier_status", "supplier_id", "status"),
    )

    supplier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    category_code: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # The revision on sale (approved), and the newest one (maybe under review).
    live_revision_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    current_revision_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    delisted_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    # The bulk import that created it, and its row in the file.
    import_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("listing_import.id", ondelete="SET NULL"), default=None, index=True
    )
    import_row: Mapped[int | None] = mapped_column(Integer, default=None)


class ListingRevision(UUIDv7AuditBase):
    __tablename__ = "listing_revision"
    __table_args__ = (
        CheckConstraint(_in("status", REVISION_STATUSES), name="status_known"),
        UniqueConstraint("listing_id", "number", name="uq_listing_revision_number"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        Index("ix_listing_revision_identity", "supplier_id", "brand_norm", "model_norm"),
        # The worker's cron looks for revisions left waiting for review.
        Index(
            "ix_listing_revision_submitted",
            "updated_at",
            postgresql_where=text("status = 'submitted'"),
        ),
    )

    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"))
    supplier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    category_code: Mapped[str] = mapped_column(String(32))
    brand: Mapped[str] = mapped_column(String(100))
    brand_norm: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    model_norm: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    unit: Mapped[str] = mapped_column(String(8))
    stock: Mapped[int] = mapped_column(Integer, default=0)
    delivery_regions: Mapped[list[str]] = mapped_column(ARRAY(String(6)), default=list)
    warranty_months: Mapped[int] = mapped_column(Integer, default=0)
    after_sales: Mapped[str] = mapped_column(Text, default="")
    gtin: Mapped[str | None] = mapped_column(String(14), default=None)
    manufacturer: Mapped[str | None] = mapped_column(String(200), default=None)
    energy_cert_no: Mapped[str | None] = mapped_column(String(64), default=None)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # Manual review: who claimed it.
    claimed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), default=None)


class ListingImage(UUIDv7AuditBase):
    """An image of a listing (position 0 is the main image); file stored by SHA-256."""

    __tablename__ = "listing_image"
    __table_args__ = (
        CheckConstraint(_in("status", ("pending", "ready", "failed")), name="status_known"),
        Index("ix_listing_image_listing", "listing_id", "position"),
        Index("ix_listing_image_phash", "phash"),
    )

    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"))
    supplier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    original_sha256: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)  # the cleaned image
    media_type: Mapped[str] = mapped_column(String(16))
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    phash: Mapped[str | None] = mapped_column(String(16), default=None)
    border_whiteness: Mapped[float | None] = mapped_column(Float, default=None)
    thumbnails: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)  # size → sha256
    error: Mapped[str | None] = mapped_column(Text, default=None)


class MediaImage(UUIDv7AuditBase):
    """An image in a supplier's media library, checked and processed like a listing
    image; listings (bulk imports) take copies of its measurements."""

    __tablename__ = "media_image"
    __table_args__ = (
        UniqueConstraint("supplier_id", "original_sha256", name="uq_media_image_file"),
    )

    supplier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    filename: Mapped[str] = mapped_column(String(255))
    original_sha256: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))  # the cleaned image
    media_type: Mapped[str] = mapped_column(String(16))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    phash: Mapped[str] = mapped_column(String(16))
    border_whiteness: Mapped[float] = mapped_column(Float)
    thumbnails: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)  # size → sha256


class StoredRuleset(UUIDv7AuditBase):
    """A versioned ruleset (review_rules.Ruleset as JSON); exactly one is active."""

    __tablename__ = "ruleset"
    __table_args__ = (
        UniqueConstraint("version", name="uq_ruleset_version"),
        Index("uq_ruleset_active", "active", unique=True, postgresql_where=text("active")),
    )

    version: Mapped[str] = mapped_column(String(40))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    activated_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )


class ReviewDecision(UUIDv7AuditBase):
    """The outcome of reviewing one revision, with every finding and how long it took."""

    __tablename__ = "review_decision"
    __table_args__ = (Index("ix_review_decision_revision", "revision_id", "created_at"),)

    revision_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("listing_revision.id", ondelete="CASCADE")
    )
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"))
    outcome: Mapped[str] = mapped_column(String(16))
    ruleset_version: Mapped[str] = mapped_column(String(40))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    facts_sha256: Mapped[str] = mapped_column(String(64))
    timings_ms: Mapped[dict[str, float]] = mapped_column(JSONB, default=dict)
    # "system" for the rules engine; the operator's user id for a manual decision.
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)


class ListingImport(UUIDv7AuditBase):
    """A bulk import of listings from one file; resumable, and the same file twice is one import."""

    __tablename__ = "listing_import"
    __table_args__ = (
        UniqueConstraint(
            "supplier_id", "file_sha256", "images_sha256", name="uq_listing_import_file"
        ),
        CheckConstraint(
            _in("status", ("queued", "running", "done", "failed")), name="status_known"
        ),
    )

    supplier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    file_sha256: Mapped[str] = mapped_column(String(64))
    # The ZIP of images sent beside the sheet ("" when none): part of what makes it the same import.
    images_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")
    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(8))  # csv | xlsx
    category_code: Mapped[str | None] = mapped_column(String(32), default=None)
    status: Mapped[str] = mapped_column(String(8), default="queued")
    rows_total: Mapped[int | None] = mapped_column(Integer, default=None)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    outcomes: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)
    # [{"row","column","code","message"}]
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    finished_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
