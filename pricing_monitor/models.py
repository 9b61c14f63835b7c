"""Tables the price monitor owns. Baselines are read by the listing review."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column


class MarketBaseline(UUIDv7AuditBase):
    """The market price of one product identity, as last computed."""

    __tablename__ = "market_baseline"
    __table_args__ = (
        Index("uq_market_baseline_identity", "brand_norm", "model_norm", "policy_key", unique=True),
        Index("ix_market_baseline_gtin", "gtin"),
    )

    brand_norm: Mapped[str] = mapped_column(String(100))
    model_norm: Mapped[str] = mapped_column(String(100))
    # Which policy computed it (pricing_monitor.policy.policy_key); "default" for most.
    policy_key: Mapped[str] = mapped_column(String(16), default="default", server_default="default")
    gtin: Mapped[str | None] = mapped_column(String(14), default=None)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    observations: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(100))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))


class PriceObservation(UUIDv7AuditBase):
    """One market price seen somewhere, kept for ever (history, never overwritten)."""

    __tablename__ = "price_observation"
    __table_args__ = (
        Index("uq_price_observation_dedupe", "dedupe_key", unique=True),
        Index("ix_price_observation_identity", "brand_norm", "model_norm", "observed_at"),
        Index("ix_price_observation_gtin", "gtin", "observed_at"),
    )

    source: Mapped[str] = mapped_column(String(20))
    platform: Mapped[str] = mapped_column(String(50))
    self_operated: Mapped[bool] = mapped_column(Boolean)
    brand: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(100))
    brand_norm: Mapped[str] = mapped_column(String(100))
    model_norm: Mapped[str] = mapped_column(String(100))
    gtin: Mapped[str | None] = mapped_column(String(14), default=None)
    platform_sku: Mapped[str | None] = mapped_column(String(64), default=None)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    observed_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    url: Mapped[str] = mapped_column(String(1000), default="")
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    # SHA-256 of source, platform, identity, price and time: a repeated import adds nothing.
    dedupe_key: Mapped[str] = mapped_column(String(64))


class BrandAlias(UUIDv7AuditBase):
    """Another name of a brand (deli → 得力); shared by matching and search."""

    __tablename__ = "brand_alias"
    __table_args__ = (Index("uq_brand_alias_alias", "alias", unique=True),)

    alias: Mapped[str] = mapped_column(String(100))  # folded (NFKC, lower case)
    canonical: Mapped[str] = mapped_column(String(100))


class PriceViolation(UUIDv7AuditBase):
    """A live listing priced above its market baseline plus tolerance, followed to a fix."""

    __tablename__ = "price_violation"
    __table_args__ = (
        Index(
            "uq_price_violation_open",
            "listing_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_price_violation_supplier_status", "supplier_id", "status"),
    )

    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"))
    supplier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    revision_id: Mapped[uuid.UUID] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved | delisted
    listing_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    baseline_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    deviation_pct: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    tolerance_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    baseline_source: Mapped[str] = mapped_column(String(100), default="")
    opened_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    resolution: Mapped[str | None] = mapped_column(String(32), default=None)


class PriceScan(UUIDv7AuditBase):
    """One pass of the price monitor over every live listing."""

    __tablename__ = "price_scan"

    trigger: Mapped[str] = mapped_column(String(16))  # manual | import | cron | policy_change
    status: Mapped[str] = mapped_column(String(8), default="queued")  # queued | running | done
    scanned: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    violations_opened: Mapped[int] = mapped_column(Integer, default=0)
    violations_resolved: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[float | None] = mapped_column(Float, default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )


class MarketBaselineChange(UUIDv7AuditBase):
    """Every value a stored baseline has taken: the baseline's history."""

    __tablename__ = "market_baseline_change"
    __table_args__ = (
        Index("ix_market_baseline_change_identity", "brand_norm", "model_norm", "computed_at"),
    )

    brand_norm: Mapped[str] = mapped_column(String(100))
    model_norm: Mapped[str] = mapped_column(String(100))
    policy_key: Mapped[str] = mapped_column(String(16))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    observations: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))


class ObservationImport(UUIDv7AuditBase):
    """A large import of market observations, run as a job in chunks.

    Each chunk commits its observations, their baselines and this row's
    progress together, so a retried job resumes after the last chunk done.
    """

    __tablename__ = "price_observation_import"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        CheckConstraint("file_format IN ('json', 'jsonl', 'csv')", name="file_format_known"),
        Index("ix_price_observation_import_org", "org_id", "created_at"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_format: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8), default="queued")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    baselines_updated: Mapped[int] = mapped_column(Integer, default=0)
    # The first errors, [{"row","field","code","message","message_zh"}]; the rest are counted.
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    errors_omitted: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
