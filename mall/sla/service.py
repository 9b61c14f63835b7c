"""Starting, pausing, resuming and meeting SLA clocks, and the breach sweep.

A clock belongs to a subject (type, id) and has a kind; there is at most one
clock of a kind per subject. It is due N working days after it starts (see
``mall.calendar.core``); while paused it cannot breach, and when it resumes its
due time moves by the working days the pause took.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import String, and_, cast, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mall import audit
from mall.auth.models import Organisation, OrgKind
from mall.calendar.core import WorkCalendar
from mall.errors import ConflictError, NotFoundError
from mall.jobs.outbox import enqueue_job
from mall.notifications.models import Notification
from mall.settings import SlaSettings
from mall.sla.models import SlaClock, SlaClockPause

log = structlog.get_logger("mall.sla")

DELIVER_PENDING_JOB = "deliver_pending_notifications"

KIND_NAMES_ZH = {
    "supplier_verification": "供应商入驻审核",
    "change_request_verification": "退回/终止申请审核",
    "order_confirmation": "订单确认",
    "contract": "合同签订",
    "acceptance": "履约验收",
    "payment": "资金支付",
    "price_fix": "价格整改",
    "objection_window": "异议期",
    "case_acceptance": "案件受理",
    "case_resolution": "案件办结",
}
# What a clock is about, as a breach notice names it in Chinese.
SUBJECT_NAMES_ZH = {
    "order": "订单",
    "order_change_request": "退回/终止申请",
    "supplier_application": "入驻申请",
    "listing_revision": "商品审核",
    "price_violation": "价格违规",
    "case": "案件",
    "penalty": "处理决定",
    "spot_check": "抽查",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def start(
    session: AsyncSession,
    calendar: WorkCalendar,
    sla: SlaSettings,
    *,
    subject_type: str,
    subject_id: object,
    kind: str,
    responsible_org_id: uuid.UUID | None,
    started_at: dt.datetime | None = None,
    working_days: int | None = None,
) -> SlaClock:
    """Start the clock of this kind for the subject (once: a second start is a conflict)."""
    started_at = started_at or _now()
    days = sla.days_for(kind) if working_days is None else working_days
    deadline = calendar.deadline(started_at, days)
    existing = await _find(session, subject_type, subject_id, kind)
    if existing is not None:
        raise ConflictError(
            f"A {kind} clock already runs for {subject_type} {subject_id}.",
            code="sla.clock_exists",
            title="该时限已开始计时",
        )
    clock = SlaClock(
        subject_type=subject_type,
        subject_id=str(subject_id),
        kind=kind,
        responsible_org_id=responsible_org_id,
        started_at=started_at,
        working_days=days,
        due_at=deadline.due_at,
        provisional=deadline.provisional,
    )
    session.add(clock)
    await session.flush()
    return clock


async def _find(
    session: AsyncSession, subject_type: str, subject_id: object, kind: str
) -> SlaClock | None:
    return (
        await session.execute(
            select(SlaClock)
            .where(
                SlaClock.subject_type == subject_type,
                SlaClock.subject_id == str(subject_id),
                SlaClock.kind == kind,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()


async def _get(session: AsyncSession, subject_type: str, subject_id: object, kind: str) -> SlaClock:
    clock = await _find(session, subject_type, subject_id, kind)
    if clock is None:
        raise NotFoundError(
            f"No {kind} clock for {subject_type} {subject_id}.",
            code="sla.clock_not_found",
            title="未找到该时限",
        )
    return clock


async def meet(
    session: AsyncSession,
    *,
    subject_type: str,
    subject_id: object,
    kind: str,
    at: dt.datetime | None = None,
) -> SlaClock:
    """Record that the promise was kept (late or not); meeting twice keeps the first time."""
    clock = await _get(session, subject_type, subject_id, kind)
    if clock.met_at is None:
        at = at or _now()
        if clock.paused_since is not None:
            await _close_pause(session, clock, at, calendar=None)
        clock.met_at = at
    return clock


async def pause(
    session: AsyncSession,
    *,
    subject_type: str,
    subject_id: object,
    kind: str,
    reason: str,
    actor: audit.Actor,
    at: dt.datetime | None = None,
) -> SlaClock:
    """Stop the clock while the mall waits on the other party."""
    clock = await _get(session, subject_type, subject_id, kind)
    if clock.met_at is not None:
        raise ConflictError(
            "The clock has already been met.", code="sla.clock_met", title="该时限已完成"
        )
    if clock.paused_since is not None:
        return clock
    at = at or _now()
    clock.paused_since = at
    session.add(SlaClockPause(clock_id=clock.id, paused_at=at, reason=reason))
    await audit.record(
        session,
        actor=actor,
        action="sla.paused",
        subject_type=subject_type,
        subject_id=subject_id,
        after={"kind": kind, "paused_at": at, "due_at": clock.due_at},
        note=reason,
    )
    return clock


async def _close_pause(
    session: AsyncSession, clock: SlaClock, at: dt.datetime, calendar: WorkCalendar | None
) -> int:
    open_pause = (
        await session.execute(
            select(SlaClockPause).where(
                SlaClockPause.clock_id == clock.id, SlaClockPause.resumed_at.is_(None)
            )
        )
    ).scalar_one()
    moved = 0
    if calendar is not None:
        due, moved, provisional = calendar.shift_by_pause(clock.due_at, open_pause.paused_at, at)
        clock.due_at = due
        clock.provisional = clock.provisional or provisional
        clock.paused_working_days += moved
    open_pause.resumed_at = at
    open_pause.working_days = moved
    clock.paused_since = None
    return moved


async def resume(
    session: AsyncSession,
    calendar: WorkCalendar,
    *,
    subject_type: str,
    subject_id: object,
    kind: str,
    actor: audit.Actor,
    at: dt.datetime | None = None,
) -> SlaClock:
    """Start the clock again; its due time moves by the working days paused."""
    clock = await _get(session, subject_type, subject_id, kind)
    if clock.paused_since is None:
        return clock
    at = at or _now()
    before = clock.due_at
    moved = await _close_pause(session, clock, at, calendar)
    await audit.record(
        session,
        actor=actor,
        action="sla.resumed",
        subject_type=subject_type,
        subject_id=subject_id,
        before={"kind": kind, "due_at": before},
        after={"due_at": clock.due_at, "working_days_paused": moved},
    )
    return clock


async def restart(
    session: AsyncSession,
    calendar: WorkCalendar,
    sla: SlaSettings,
    *,
    subject_type: str,
    subject_id: object,
    kind: str,
    responsible_org_id: uuid.UUID | None,
    actor: audit.Actor,
    at: dt.datetime | None = None,
) -> SlaClock:
    """Run the clock again from ``at`` (a decision was reversed): started if it never ran,
    else reset to a fresh full term, not met, not breached."""
    existing = await _find(session, subject_type, subject_id, kind)
    if existing is None:
        return await start(
            session,
            calendar,
            sla,
            subject_type=subject_type,
            subject_id=subject_id,
            kind=kind,
            responsible_org_id=responsible_org_id,
            started_at=at,
        )
    at = at or _now()
    if existing.paused_since is not None:
        await _close_pause(session, existing, at, calendar=None)
    before = {"kind": kind, "due_at": existing.due_at, "met_at": existing.met_at}
    deadline = calendar.deadline(at, existing.working_days)
    existing.started_at, existing.due_at, existing.provisional = (
        at,
        deadline.due_at,
        deadline.provisional,
    )
    existing.met_at = existing.breached_at = None
    existing.paused_working_days = 0
    await audit.record(
        session,
        actor=actor,
        action="sla.restarted",
        subject_type=subject_type,
        subject_id=subject_id,
        before=before,
        after={"kind": kind, "started_at": at, "due_at": existing.due_at},
    )
    return existing


@dataclass(frozen=True, slots=True)
class SweepResult:
    breached: int
    notified_orgs: int


# One statement: mark the breaches, write one notification per responsible
# organisation (listing up to 20 of its missed deadlines), and hand back the
# counts per kind and a SHA-256 of the breached clock ids (sorted, comma
# separated). Set-based, so a sweep costs about what the bare UPDATE costs,
# whatever the number of breaches.
_SWEEP_SQL = text(
    """
    WITH breached AS (
        UPDATE sla_clock SET breached_at = :now, updated_at = :now
        WHERE met_at IS NULL AND breached_at IS NULL AND paused_since IS NULL AND due_at < :now
        RETURNING id, kind, subject_type, subject_id, responsible_org_id
    ), ranked AS (
        SELECT b.*, coalesce(CAST(:kind_names AS jsonb) ->> b.kind, b.kind) AS kind_zh,
               coalesce(CAST(:subject_names AS jsonb) ->> b.subject_type, '事项') AS subject_zh,
               row_number() OVER (PARTITION BY responsible_org_id ORDER BY kind, subject_id) AS rn,
               count(*) OVER (PARTITION BY responsible_org_id) AS n
        FROM breached b
        WHERE responsible_org_id IS NOT NULL
    ), notes AS (
        INSERT INTO notification (id, org_id, kind, title_zh, title_en, body_zh, body_en,
                                  subject_type, created_at, updated_at)
        SELECT gen_random_uuid(), responsible_org_id, 'sla.breached',
               max(n) || ' 项办理时限已超期', max(n) || ' deadline(s) missed',
               string_agg(kind_zh || '（' || subject_zh || ' ' || subject_id || '）', '、'
                          ORDER BY rn) FILTER (WHERE rn <= 20)
                   || CASE WHEN max(n) > 20 THEN ' 等 ' || max(n) || ' 项' ELSE '' END,
               string_agg(replace(kind, '_', ' ') || ' (' || replace(subject_type, '_', ' ')
                          || ' ' || subject_id || ')', ', ' ORDER BY rn) FILTER (WHERE rn <= 20)
                   || CASE WHEN max(n) > 20 THEN ' and ' || (max(n) - 20) || ' more' ELSE '' END,
               'sla_clock', :now, :now
        FROM ranked
        GROUP BY responsible_org_id
        RETURNING org_id
    ), by_kind AS (
        SELECT kind, count(*) AS n FROM breached GROUP BY kind
    )
    SELECT (SELECT count(*) FROM breached) AS breached,
           (SELECT encode(sha256(convert_to(coalesce(
                string_agg(CAST(id AS text), ',' ORDER BY id), ''), 'UTF8')), 'hex')
            FROM breached) AS clock_ids_sha256,
           (SELECT coalesce(jsonb_object_agg(kind, n), '{}') FROM by_kind) AS by_kind,
           (SELECT count(*) FROM notes) AS notified
    """
)


async def sweep(session: AsyncSession, now: dt.datetime | None = None) -> SweepResult:
    """Mark every open clock past its due time as breached (one set-based
    statement), notify each responsible organisation once and every operator,
    and append one audit event naming every clock breached."""
    now = now or _now()
    row = (
        await session.execute(
            _SWEEP_SQL,
            {
                "now": now,
                "kind_names": json.dumps(KIND_NAMES_ZH),
                "subject_names": json.dumps(SUBJECT_NAMES_ZH),
            },
        )
    ).one()
    breached, by_kind, notified = int(row.breached), dict(row.by_kind), int(row.notified)
    if not breached:
        return SweepResult(breached=0, notified_orgs=0)
    await _escalate(session, breached, by_kind, now)
    # The audit event pins down exactly which clocks this sweep breached: they
    # are those with breached_at = the sweep's time, and their sorted ids hash
    # to clock_ids_sha256 (see ``breached_ids_digest``).
    await audit.record(
        session,
        actor=audit.SYSTEM,
        action="sla.breached",
        subject_type="sla_sweep",
        subject_id=now.isoformat(),
        after={
            "breached": breached,
            "by_kind": by_kind,
            "breached_at": now,
            "clock_ids_sha256": row.clock_ids_sha256,
        },
    )
    await enqueue_job(session, DELIVER_PENDING_JOB, key=now.isoformat())
    log.info("sla.swept", breached=breached, notified_orgs=notified)
    return SweepResult(breached=breached, notified_orgs=notified)


async def breached_ids_digest(session: AsyncSession, breached_at: dt.datetime) -> tuple[int, str]:
    """Recompute (count, SHA-256 of sorted ids) for the clocks breached at that time,
    to compare with a sweep's audit event."""
    rows = (
        await session.scalars(select(SlaClock.id).where(SlaClock.breached_at == breached_at))
    ).all()
    text_ids = ",".join(sorted(str(i) for i in rows))
    return len(rows), hashlib.sha256(text_ids.encode()).hexdigest()


async def _escalate(
    session: AsyncSession, total: int, by_kind: dict[str, int], now: dt.datetime
) -> None:
    """One escalation notice to each active operator organisation."""
    summary_zh = "；".join(f"{KIND_NAMES_ZH.get(k, k)} {n} 项" for k, n in sorted(by_kind.items()))
    summary_en = "; ".join(f"{k.replace('_', ' ')}: {n}" for k, n in sorted(by_kind.items()))
    operators = (
        await session.scalars(
            select(Organisation.id).where(
                Organisation.kind == OrgKind.OPERATOR.value, Organisation.status == "active"
            )
        )
    ).all()
    if operators:
        await session.execute(
            Notification.__table__.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "org_id": org_id,
                    "kind": "sla.escalation",
                    "title_zh": f"超期督办：{total} 项时限已超期",
                    "title_en": f"Escalation: {total} deadline(s) missed",
                    "body_zh": summary_zh,
                    "body_en": summary_en,
                    "subject_type": "sla_sweep",
                    "subject_id": now.isoformat(),
                    "created_at": now,
                    "updated_at": now,
                }
                for org_id in operators
            ],
        )


async def recompute_provisional(
    session: AsyncSession, calendar: WorkCalendar, batch: int = 2000
) -> int:
    """Recompute the due time of every unmet provisional clock with the current calendar."""
    changed, last_id = 0, None
    while True:
        query = select(SlaClock).where(SlaClock.provisional.is_(True), SlaClock.met_at.is_(None))
        if last_id is not None:
            query = query.where(SlaClock.id > last_id)
        clocks = (await session.execute(query.order_by(SlaClock.id).limit(batch))).scalars().all()
        if not clocks:
            return changed
        for clock in clocks:
            deadline = calendar.deadline(clock.started_at, clock.working_days)
            due, provisional = deadline.due_at, deadline.provisional
            pauses = (
                await session.scalars(
                    select(SlaClockPause)
                    .where(
                        and_(
                            SlaClockPause.clock_id == clock.id,
                            SlaClockPause.resumed_at.is_not(None),
                        )
                    )
                    .order_by(SlaClockPause.paused_at)
                )
            ).all()
            for p in pauses:
                assert p.resumed_at is not None
                due, moved, pause_provisional = calendar.shift_by_pause(
                    due, p.paused_at, p.resumed_at
                )
                p.working_days = moved
                provisional = provisional or pause_provisional
            if due != clock.due_at or provisional != clock.provisional:
                clock.due_at, clock.provisional = due, provisional
                if clock.breached_at is not None and due > clock.breached_at:
                    clock.breached_at = None  # it was not late after all
                changed += 1
        last_id = clocks[-1].id
        await session.flush()


async def deliver_pending_notifications(session: AsyncSession) -> int:
    result = await session.execute(
        text("UPDATE notification SET delivered_at = now() WHERE delivered_at IS NULL")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def due_first(
    session: AsyncSession,
    model: Any,
    *,
    subject_type: str,
    kind: str,
    status: str | None,
    limit: int,
    offset: int = 0,
) -> Sequence[tuple[Any, SlaClock]]:
    """Rows of ``model`` (filtered by ``status``) with their clock of ``kind``,
    the soonest due first: an operator's work queue."""
    query = select(model, SlaClock).join(
        SlaClock,
        and_(
            SlaClock.subject_type == subject_type,
            SlaClock.subject_id == cast(model.id, String),
            SlaClock.kind == kind,
        ),
    )
    if status:
        query = query.where(model.status == status)
    rows = (
        await session.execute(query.order_by(SlaClock.due_at, model.id).limit(limit).offset(offset))
    ).all()
    return [(row[0], row[1]) for row in rows]
