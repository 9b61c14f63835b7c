"""Random spot checks (双随机): the draw, its items and findings."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

POPULATIONS = ("suppliers", "live_listings", "completed_orders")
FINDINGS = ("conforming", "nonconforming", "not_reachable")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class SpotCheck(UUIDv7AuditBase):
    """A draw: defined with the seed's hash and a population snapshot, then revealed."""

    __tablename__ = "spot_check"
    __table_args__ = (
        CheckConstraint(_in("population", POPULATIONS), name="population_known"),
        CheckConstraint(_in("status", ("committed", "revealed", "completed")), name="status"),
        CheckConstraint("sample_size > 0", name="sample_size_positive"),
        CheckConstraint("inspector_count > 0", name="inspector_count_positive"),
    )

    name: Mapped[str] = mapped_column(String(200))
    population: Mapped[str] = mapped_column(String(20))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    sample_size: Mapped[int] = mapped_column(Integer)
    inspector_count: Mapped[int] = mapped_column(Integer)
    # Snapshots taken at definition, before the seed is known.
    population_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    population_sha256: Mapped[str] = mapped_column(String(64))
    inspector_pool: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    inspector_pool_sha256: Mapped[str] = mapped_column(String(64))
    seed_sha256: Mapped[str] = mapped_column(String(64))
    seed: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default="committed")
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    regulator_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    # Fixed at commit, at least an hour later: the seed may be revealed from
    # then on, and the draw mixes in the audit chain's head at that time.
    # None for draws revealed before beacons were used (the seed alone).
    reveal_after: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    beacon_audit_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    beacon_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    revealed_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
    completed_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )


class SpotCheckItem(UUIDv7AuditBase):
    """One drawn subject, its inspector, and what the inspection found."""

    __tablename__ = "spot_check_item"
    __table_args__ = (
        CheckConstraint(f"finding IS NULL OR {_in('finding', FINDINGS)}", name="finding_known"),
        Index("ix_spot_check_item_check", "spot_check_id", "rank"),
    )

    spot_check_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("spot_check.id", ondelete="CASCADE")
    )
    rank: Mapped[int] = mapped_column(Integer)
    subject_id: Mapped[str] = mapped_column(String(64))
    inspector_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    finding: Mapped[str | None] = mapped_column(String(16), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    recorded_at: Mapped[dt.datetime | None] = mapped_column(
        DateTimeUTC(timezone=True), default=None
    )
