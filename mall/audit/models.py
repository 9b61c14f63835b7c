"""The append-only, hash-chained audit trail (全过程留痕)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from advanced_alchemy.base import IdentityBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BigInteger, Index, String, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column


class AuditEvent(IdentityBase):
    """One state change: who, when, what, on which subject, from what to what.

    ``hash`` = SHA-256 of ``prev_hash`` and the row's canonical JSON, so an
    edited, inserted or deleted row breaks the chain at the next row.
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject", "subject_type", "subject_id", "id"),)

    occurred_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    actor_kind: Mapped[str] = mapped_column(String(16))  # user | api_token | system
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    actor_org_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    action: Mapped[str] = mapped_column(String(100))
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(64))
    summary: Mapped[dict[str, Any]] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(IdentityBase):
    """The chain's head at a moment, signed with the mall's Ed25519 key and published.

    Kept outside ``audit_event`` and mirrored by anyone who reads the public
    list: a newest row deleted afterwards leaves the chain shorter than a
    checkpoint says it was.
    """

    __tablename__ = "audit_checkpoint"

    audit_event_id: Mapped[int] = mapped_column(BigInteger)
    event_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True), index=True)
    # The public key's SHA-256 (hex, first 16 characters) names the key that signed.
    key_id: Mapped[str] = mapped_column(String(16))
    signature: Mapped[str] = mapped_column(Text)
