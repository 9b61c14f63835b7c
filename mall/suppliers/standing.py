"""A supplier's standing: active, suspended (until a time), expelled (banned
until a time), withdrawn. Every change is an audit event and a notice."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mall import audit
from mall.auth.models import Organisation, OrgKind, OrgStatus
from mall.auth.principal import Principal
from mall.errors import ConflictError, InvalidError, NotFoundError
from mall.notifications.service import notify
from mall.search import service as search

_NAMES = {
    OrgStatus.ACTIVE: ("恢复交易", "reinstated"),
    OrgStatus.SUSPENDED: ("暂停交易", "suspended"),
    OrgStatus.EXPELLED: ("清退出卖场", "expelled"),
    OrgStatus.WITHDRAWN: ("退出卖场", "withdrawn"),
}
# Which standing may follow which.
_ALLOWED = {
    OrgStatus.ACTIVE: {OrgStatus.SUSPENDED, OrgStatus.EXPELLED},
    OrgStatus.SUSPENDED: {OrgStatus.ACTIVE, OrgStatus.EXPELLED},
    OrgStatus.EXPELLED: set(),
    OrgStatus.WITHDRAWN: set(),
}


async def _supplier(session: AsyncSession, org_id: uuid.UUID) -> Organisation:
    org = (
        await session.scalars(
            select(Organisation)
            .where(Organisation.id == org_id, Organisation.kind == OrgKind.SUPPLIER.value)
            .with_for_update()
        )
    ).one_or_none()
    if org is None:
        raise NotFoundError("No such supplier.", code="supplier.not_found", title="未找到该供应商")
    return org


async def change(
    session: AsyncSession,
    actor: audit.Actor,
    org_id: uuid.UUID,
    to: OrgStatus,
    *,
    reason: str,
    until: dt.datetime | None = None,
) -> Organisation:
    org = await _supplier(session, org_id)
    current = OrgStatus(org.status)
    allowed = _ALLOWED.get(current, set()) | (
        {OrgStatus.WITHDRAWN} if current in (OrgStatus.ACTIVE, OrgStatus.SUSPENDED) else set()
    )
    if to not in allowed:
        raise ConflictError(
            f"A {current.value} supplier cannot become {to.value}.",
            code="supplier.standing_transition",
            title="供应商当前状态不允许此变更",
            current_status=current.value,
            allowed=sorted(s.value for s in allowed),
        )
    if until is not None and until <= dt.datetime.now(dt.UTC):
        raise InvalidError(
            "until must be in the future.",
            code="supplier.until_past",
            title="截止时间须晚于当前时间",
            errors=[{"field": "until", "message": "must be in the future"}],
        )
    before = {"status": org.status, "status_until": org.status_until, "reason": org.status_reason}
    org.status, org.status_until, org.status_reason = to.value, until, reason
    await search.request_sync(session)  # its listings leave (or return to) search results
    await audit.record(
        session,
        actor=actor,
        action=f"supplier.{_NAMES[to][1]}",
        subject_type="organisation",
        subject_id=org.id,
        before=before,
        after={"status": to.value, "status_until": until, "reason": reason},
    )
    title_zh, word = _NAMES[to]
    await notify(
        session,
        org_id=org.id,
        kind=f"supplier.{word}",
        title_zh=f"贵单位已{title_zh}",
        title_en=f"Your organisation was {word}",
        body_zh=reason,
        body_en=reason,
        subject=("organisation", org.id),
    )
    return org


async def withdraw(session: AsyncSession, principal: Principal, reason: str) -> Organisation:
    """A supplier may leave at any time; its open orders continue."""
    return await change(
        session, audit.Actor.of(principal), principal.org_id, OrgStatus.WITHDRAWN, reason=reason
    )


async def lift_expired_suspensions(session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Suspensions with an end time reinstate themselves when it passes."""
    now = now or dt.datetime.now(dt.UTC)
    rows = (
        (
            await session.execute(
                update(Organisation)
                .where(
                    Organisation.kind == OrgKind.SUPPLIER.value,
                    Organisation.status == OrgStatus.SUSPENDED.value,
                    Organisation.status_until.is_not(None),
                    Organisation.status_until <= now,
                )
                .values(
                    status=OrgStatus.ACTIVE.value,
                    status_reason="暂停期满自动恢复",
                    status_until=None,
                )
                .returning(Organisation.id)
                .execution_options(synchronize_session=False)
            )
        )
        .scalars()
        .all()
    )
    if rows:
        await audit.record_many(
            session,
            [
                audit.Event(
                    actor=audit.SYSTEM,
                    action="supplier.reinstated",
                    subject_type="organisation",
                    subject_id=org_id,
                    before={"status": "suspended"},
                    after={"status": "active"},
                    note="suspension ended",
                )
                for org_id in rows
            ],
        )
    return len(rows)
