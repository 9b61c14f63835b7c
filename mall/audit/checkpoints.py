"""Signed checkpoints of the audit chain's head.

The chain alone shows an edited or deleted row by the row after it, but not a
deleted newest row: nothing comes after it. A checkpoint records the head
(the newest row's id and hash, and the time) outside ``audit_event``, signed
with the mall's Ed25519 key, and is published: whoever keeps a copy can prove
later that the chain once reached that row with that hash.

The key is derived from ``MALL_SECRET_KEY`` (HKDF-SHA256), so every process
signs alike; its public half is published beside the checkpoints. The signed
message is ``CHECKPOINT_FORMAT`` filled in (UTF-8), e.g.::

    mall-audit-checkpoint/v1
    1234
    9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    2026-12-01T20:00:00.000000Z
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mall.audit.models import AuditCheckpoint, AuditEvent
from mall.audit.service import SignedHead, VerifyResult, verify

CHECKPOINT_FORMAT = "mall-audit-checkpoint/v1\n{audit_event_id}\n{event_hash}\n{created_at}"
_KEY_INFO = b"mall audit checkpoint ed25519 v1"


@dataclass(frozen=True, slots=True)
class CheckpointKey:
    """The mall's checkpoint signing key and how it is published."""

    private: Ed25519PrivateKey

    @classmethod
    def from_secret(cls, secret_key: str) -> CheckpointKey:
        seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
            secret_key.encode()
        )
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_base64(self) -> str:
        """The 32-byte raw public key, base64."""
        return base64.b64encode(self.public_raw).decode()

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def key_id(self) -> str:
        """The first 16 hex characters of the raw public key's SHA-256."""
        return hashlib.sha256(self.public_raw).hexdigest()[:16]


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def checkpoint_message(audit_event_id: int, event_hash: str, created_at: dt.datetime) -> bytes:
    """The bytes that are signed (see ``CHECKPOINT_FORMAT``)."""
    return CHECKPOINT_FORMAT.format(
        audit_event_id=audit_event_id, event_hash=event_hash, created_at=_iso(created_at)
    ).encode()


def signature_holds(checkpoint: AuditCheckpoint, public_key: Ed25519PublicKey) -> bool:
    """True when the checkpoint's signature is the key's over its own fields."""
    try:
        public_key.verify(
            base64.b64decode(checkpoint.signature),
            checkpoint_message(
                checkpoint.audit_event_id, checkpoint.event_hash, checkpoint.created_at
            ),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


async def create(
    session: AsyncSession,
    key: CheckpointKey,
    *,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> AuditCheckpoint | None:
    """Sign and store the chain's current head; None while the chain is empty."""
    head = (
        await session.execute(
            select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
        )
    ).first()
    if head is None:
        return None
    # Whole microseconds, as the message and the column both keep them.
    now = clock().astimezone(dt.UTC)
    signature = key.private.sign(checkpoint_message(head.id, head.hash, now))
    checkpoint = AuditCheckpoint(
        audit_event_id=head.id,
        event_hash=head.hash,
        created_at=now,
        key_id=key.key_id,
        signature=base64.b64encode(signature).decode(),
    )
    session.add(checkpoint)
    await session.flush()
    return checkpoint


async def latest(
    connection: AsyncSession | AsyncConnection, key: CheckpointKey
) -> AuditCheckpoint | None:
    """The newest checkpoint this key signed."""
    row = (
        await connection.execute(
            select(AuditCheckpoint.__table__)
            .where(AuditCheckpoint.key_id == key.key_id)
            .order_by(AuditCheckpoint.id.desc())
            .limit(1)
        )
    ).first()
    return AuditCheckpoint(**row._mapping) if row is not None else None


async def listing(session: AsyncSession, *, limit: int, offset: int) -> list[AuditCheckpoint]:
    """Checkpoints, newest first."""
    rows = (
        await session.scalars(
            select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(limit).offset(offset)
        )
    ).all()
    return list(rows)


async def verify_chain(
    connection: AsyncConnection,
    key: CheckpointKey,
    *,
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """The chain checked row by row and against the latest checkpoint of this key."""
    checkpoint = await latest(connection, key)
    head = (
        SignedHead(
            checkpoint_id=checkpoint.id,
            audit_event_id=checkpoint.audit_event_id,
            event_hash=checkpoint.event_hash,
            signature_ok=signature_holds(checkpoint, key.private.public_key()),
        )
        if checkpoint is not None
        else None
    )
    return await verify(connection, head=head, progress=progress)
