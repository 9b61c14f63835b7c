"""Appending to and verifying the hash-chained audit trail.

Appends are serialized with a transaction-level advisory lock taken just
before the insert, so concurrent writers never fork the chain; the lock is
released when the writer's transaction ends. Callers append in the same
transaction as the change they record, as its last statement where they can.
Sessions must run at READ COMMITTED (PostgreSQL's default): the row read after
the lock is then the latest committed one.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mall.audit.models import AuditEvent
from mall.auth.principal import Principal

GENESIS_HASH = "0" * 64
# A fixed 64-bit key for pg_advisory_xact_lock: ASCII "mallaudt".
AUDIT_LOCK_KEY = int.from_bytes(b"mallaudt", "big") - 2**63

_table = AuditEvent.__table__


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused a change: a user, an integration token, or the system itself."""

    kind: str
    user_id: uuid.UUID | None = None
    org_id: uuid.UUID | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(kind=principal.actor_kind, user_id=principal.user_id, org_id=principal.org_id)


SYSTEM = Actor(kind="system")


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot put {type(value).__name__} in an audit summary")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: one text per value."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    )


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The hash of one row given the hash of the row before it."""
    payload = {
        "id": row["id"],
        "occurred_at": _iso(row["occurred_at"]),
        "actor_kind": row["actor_kind"],
        "actor_user_id": str(row["actor_user_id"]) if row["actor_user_id"] else None,
        "actor_org_id": str(row["actor_org_id"]) if row["actor_org_id"] else None,
        "action": row["action"],
        "subject_type": row["subject_type"],
        "subject_id": row["subject_id"],
        "summary": row["summary"],
        "request_id": row["request_id"],
    }
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(b"\n")
    digest.update(canonical_json(payload).encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Event:
    """One audit event to append (see ``record`` for the fields)."""

    actor: Actor
    action: str
    subject_type: str
    subject_id: object
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    note: str | None = None


def _summary(event: Event) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    if event.before is not None:
        summary["before"] = event.before
    if event.after is not None:
        summary["after"] = event.after
    if event.note is not None:
        summary["note"] = event.note
    # Normalise through JSON so that what is hashed is what JSONB gives back.
    result: dict[str, Any] = json.loads(canonical_json(summary))
    return result


async def record_many(
    session: AsyncSession | AsyncConnection,
    events: list[Event],
    *,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> list[int]:
    """Append events in order, in the caller's transaction, under one lock; returns their ids."""
    if not events:
        return []
    summaries = [_summary(event) for event in events]
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_LOCK_KEY})
    # After the lock: the chain's head, and ids for the new rows, in one round trip.
    head = (
        await session.execute(
            text(
                "SELECT (SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1),"
                " ARRAY(SELECT nextval(pg_get_serial_sequence('audit_event', 'id'))"
                " FROM generate_series(1, :n))"
            ),
            {"n": len(events)},
        )
    ).one()
    prev_hash, ids = head[0] or GENESIS_HASH, sorted(head[1])
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    now = clock()
    rows = []
    for event, summary, row_id in zip(events, summaries, ids, strict=True):
        row = {
            "id": int(row_id),
            "occurred_at": now,
            "actor_kind": event.actor.kind,
            "actor_user_id": event.actor.user_id,
            "actor_org_id": event.actor.org_id,
            "action": event.action,
            "subject_type": event.subject_type,
            "subject_id": str(event.subject_id),
            "summary": summary,
            "request_id": request_id,
            "prev_hash": prev_hash,
        }
        row["hash"] = prev_hash = chain_hash(prev_hash, row)
        rows.append(row)
    await session.execute(_table.insert(), rows)
    return [row["id"] for row in rows]


async def record(
    session: AsyncSession | AsyncConnection,
    *,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> int:
    """Append one event in the caller's transaction; returns its id.

    ``before``/``after`` summarise the subject's state around the change;
    ``note`` says why, in words.
    """
    event = Event(actor, action, subject_type, subject_id, before, after, note)
    return (await record_many(session, [event], clock=clock))[0]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_id: int | None
    # The checkpoint the chain was held against, and why it does not hold:
    # ``row_changed`` (a row edited, inserted or deleted before the head),
    # ``checkpoint_row_missing`` (the chain ends before the row a checkpoint
    # signed: newest rows deleted), ``checkpoint_hash_mismatch``,
    # ``checkpoint_signature_invalid``.
    checkpoint_id: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A checkpoint's claim: the chain reached this row with this hash."""

    checkpoint_id: int
    audit_event_id: int
    event_hash: str
    signature_ok: bool


async def _rows(connection: AsyncConnection, batch: int) -> AsyncIterator[dict[str, Any]]:
    last_id = 0
    while True:
        result = await connection.execute(
            select(_table).where(_table.c.id > last_id).order_by(_table.c.id).limit(batch)
        )
        rows = result.mappings().all()
        if not rows:
            return
        for row in rows:
            yield dict(row)
        last_id = rows[-1]["id"]


async def verify(
    connection: AsyncConnection,
    *,
    batch: int = 5000,
    progress: Callable[[int], None] | None = None,
    head: SignedHead | None = None,
) -> VerifyResult:
    """Walk the chain from the first row; name the first row that does not hold.

    With a signed ``head`` (the latest checkpoint), the chain must also reach
    that row with that hash: otherwise its newest rows were deleted or changed.
    """
    checkpoint_id = head.checkpoint_id if head else None

    def broken(row_id: int | None, reason: str) -> VerifyResult:
        return VerifyResult(False, checked, row_id, checkpoint_id, reason)

    if head is not None and not head.signature_ok:
        checked = 0
        return broken(head.audit_event_id, "checkpoint_signature_invalid")
    prev_hash = GENESIS_HASH
    checked = 0
    reached = head is None
    async for row in _rows(connection, batch):
        if row["prev_hash"] != prev_hash or chain_hash(prev_hash, row) != row["hash"]:
            return broken(row["id"], "row_changed")
        if head is not None and row["id"] == head.audit_event_id:
            if row["hash"] != head.event_hash:
                return broken(row["id"], "checkpoint_hash_mismatch")
            reached = True
        prev_hash = row["hash"]
        checked += 1
        if progress and checked % batch == 0:
            progress(checked)
    if not reached and head is not None:
        return broken(head.audit_event_id, "checkpoint_row_missing")
    return VerifyResult(True, checked, None, checkpoint_id, None)
