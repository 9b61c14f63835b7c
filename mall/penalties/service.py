"""Applying, publishing, revoking and expiring penalties; the credit score.

A penalty takes effect when applied and is published (公示) at once with an
appeal window of 5 working days (``objection_window``); an appeal is an
objection case against the penalty, and an upheld appeal revokes it.
Suspensions and bans carry their end; suspensions lift themselves (cron) and
an expelled credit code cannot register again until its ban ends.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Listing
from mall import audit
from mall.audit.models import AuditEvent
from mall.auth.models import Organisation, OrgKind, OrgStatus
from mall.calendar.service import load_calendar
from mall.cases.models import Case
from mall.db import violates
from mall.errors import ConflictError, InvalidError, NotFoundError
from mall.notifications.service import notify
from mall.notifications.texts import deadline_en, deadline_zh
from mall.penalties import score as credit_score
from mall.penalties.models import Penalty, PenaltyKind
from mall.settings import get_settings
from mall.suppliers import standing

APPEAL_CLOCK = "objection_window"
# The unique index that holds one penalty per case and behaviour (migration 0012).
CASE_CODE_INDEX = "uq_penalty_case_code"
SANCTION_NAMES = {
    "warning": ("警告", "warning"),
    "delist_listings": ("下架全部商品", "all listings delisted"),
    "suspend": ("暂停交易", "trading suspended"),
    "expel": ("清退并禁入", "expelled and banned"),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def catalogue(session: AsyncSession, *, active_only: bool = True) -> Sequence[PenaltyKind]:
    query = select(PenaltyKind).order_by(PenaltyKind.area, PenaltyKind.code)
    if active_only:
        query = query.where(PenaltyKind.active.is_(True))
    return (await session.scalars(query)).all()


async def kind_of(session: AsyncSession, code: str) -> PenaltyKind:
    kind = (
        await session.scalars(
            select(PenaltyKind).where(PenaltyKind.code == code, PenaltyKind.active.is_(True))
        )
    ).one_or_none()
    if kind is None:
        raise InvalidError(
            f"No penalty {code!r} in the catalogue.",
            code="penalty.unknown_code",
            title="失信行为代码不存在",
            errors=[{"field": "code", "message": "not in the penalty catalogue"}],
        )
    return kind


def _years_later(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28) + dt.timedelta(days=1)


async def _delist_all(session: AsyncSession, supplier_id: uuid.UUID, now: dt.datetime) -> int:
    ids = (
        await session.scalars(
            update(Listing)
            .where(Listing.supplier_id == supplier_id, Listing.delisted_at.is_(None))
            .values(status="delisted", delisted_at=now, updated_at=now)
            .returning(Listing.id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    return len(ids)


async def apply(
    session: AsyncSession,
    actor: audit.Actor,
    *,
    supplier_id: uuid.UUID,
    code: str,
    reason: str,
    case_id: uuid.UUID | None = None,
    operator_case_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> Penalty:
    """Apply a catalogued penalty to a supplier and publish it.

    With ``case_id``, the case must exist, be an upheld report or dispute against
    this supplier, and not have led to this penalty already (a unique index holds
    the last against two requests at once)."""
    kind = await kind_of(session, code)
    if case_id is not None:
        await _check_case(session, case_id, supplier_id, kind.code)
    org = (
        await session.scalars(
            select(Organisation)
            .where(Organisation.id == supplier_id, Organisation.kind == OrgKind.SUPPLIER.value)
            .with_for_update()
        )
    ).one_or_none()
    if org is None:
        raise NotFoundError("No such supplier.", code="supplier.not_found", title="未找到该供应商")
    now = now or _now()
    calendar = await load_calendar(session)
    appeal = calendar.deadline(now, get_settings().sla.days_for(APPEAL_CLOCK))
    ends_at = None
    if kind.sanction == "suspend":
        ends_at = now + dt.timedelta(days=kind.suspend_days or 0)
    elif kind.sanction == "expel":
        ends_at = _years_later(now, kind.ban_years or 0)
    penalty = Penalty(
        supplier_id=org.id,
        code=kind.code,
        source="automatic" if actor.kind == "system" else "operator",
        status="in_force",
        points=kind.points,
        sanction=kind.sanction,
        case_id=case_id,
        operator_case_id=operator_case_id,
        reason=reason,
        imposed_by=actor.user_id,
        imposed_at=now,
        ends_at=ends_at,
        appeal_until=appeal.due_at,
    )
    try:
        async with session.begin_nested():
            session.add(penalty)
            await session.flush()
    except IntegrityError as exc:
        if not violates(exc, CASE_CODE_INDEX):
            raise
        raise _already_applied(case_id, kind.code) from None
    if kind.sanction in ("delist_listings", "expel"):
        penalty.listings_delisted = await _delist_all(session, org.id, now)
    await _impose_standing(session, actor, org, kind, penalty)
    await audit.record(
        session,
        actor=actor,
        action="penalty.applied",
        subject_type="penalty",
        subject_id=penalty.id,
        after={
            "supplier_id": org.id,
            "code": kind.code,
            "points": kind.points,
            "sanction": kind.sanction,
            "ends_at": ends_at,
            "appeal_until": penalty.appeal_until,
            "case_id": case_id,
            "operator_case_id": operator_case_id,
            "listings_delisted": penalty.listings_delisted,
        },
        note=reason,
    )
    sanction_zh, sanction_en = SANCTION_NAMES[kind.sanction]
    await notify(
        session,
        org_id=org.id,
        kind="penalty.applied",
        title_zh=f"失信行为处理：{kind.name_zh}（{sanction_zh}，扣 {kind.points} 分）",
        title_en=f"Penalty: {kind.name_en} ({sanction_en}, {kind.points} points)",
        body_zh=f"{reason}。如有异议，请于 {deadline_zh(appeal.due_at)}前提出。",
        body_en=f"{reason}. You may appeal by {deadline_en(appeal.due_at)}.",
        subject=("penalty", penalty.id),
    )
    return penalty


def _already_applied(case_id: uuid.UUID | None, code: str) -> ConflictError:
    return ConflictError(
        "This case has led to this penalty already.",
        code="penalty.already_applied",
        title="该案件已处以此项失信处理",
        case_id=case_id,
        penalty_code=code,
    )


def _case_error(detail: str, code: str, title: str, message: str) -> InvalidError:
    return InvalidError(
        detail, code=code, title=title, errors=[{"field": "case_id", "message": message}]
    )


async def _check_case(
    session: AsyncSession, case_id: uuid.UUID, supplier_id: uuid.UUID, code: str
) -> None:
    """A penalty from a case: an upheld report or dispute against this supplier, once
    per behaviour."""
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFoundError(
            "No such case.",
            code="case.not_found",
            title="未找到该案件",
            errors=[{"field": "case_id", "message": "no such case"}],
        )
    if case.respondent_org_id != supplier_id:
        raise _case_error(
            "The case is not against this supplier.",
            "penalty.case_mismatch",
            "该案件的被举报方不是该供应商",
            "the case's respondent is another organisation",
        )
    upheld = case.status == "upheld" or (
        case.status == "closed"
        and await session.scalar(
            select(AuditEvent.id).where(
                AuditEvent.subject_type == "case",
                AuditEvent.subject_id == str(case.id),
                AuditEvent.action == "case.upheld",
            )
        )
        is not None
    )
    if case.case_type == "objection" or not upheld:
        raise _case_error(
            "A penalty follows an upheld report or dispute only.",
            "penalty.case_not_upheld",
            "仅成立的举报或争议可处以失信处理",
            "not an upheld report or dispute",
        )
    already = await session.scalar(
        select(Penalty.id).where(Penalty.case_id == case.id, Penalty.code == code)
    )
    if already is not None:
        raise _already_applied(case.id, code)


async def _impose_standing(
    session: AsyncSession,
    actor: audit.Actor,
    org: Organisation,
    kind: PenaltyKind,
    penalty: Penalty,
) -> None:
    reason = f"{kind.name_zh}（{kind.code}）"
    status = OrgStatus(org.status)
    if kind.sanction == "suspend" and penalty.ends_at is not None:
        if status is OrgStatus.ACTIVE:
            await standing.change(
                session, actor, org.id, OrgStatus.SUSPENDED, reason=reason, until=penalty.ends_at
            )
        elif status is OrgStatus.SUSPENDED and (
            org.status_until is not None and org.status_until < penalty.ends_at
        ):
            before = org.status_until
            org.status_until, org.status_reason = penalty.ends_at, reason
            await audit.record(
                session,
                actor=actor,
                action="supplier.suspension_extended",
                subject_type="organisation",
                subject_id=org.id,
                before={"status_until": before},
                after={"status_until": penalty.ends_at, "penalty_id": penalty.id},
            )
    elif kind.sanction == "expel" and status in (OrgStatus.ACTIVE, OrgStatus.SUSPENDED):
        await standing.change(
            session, actor, org.id, OrgStatus.EXPELLED, reason=reason, until=penalty.ends_at
        )


async def get(session: AsyncSession, penalty_id: uuid.UUID, *, lock: bool = False) -> Penalty:
    query = select(Penalty).where(Penalty.id == penalty_id)
    if lock:
        query = query.with_for_update()
    penalty = (await session.scalars(query)).one_or_none()
    if penalty is None:
        raise NotFoundError("No such penalty.", code="penalty.not_found", title="未找到该处理记录")
    return penalty


async def revoke(
    session: AsyncSession, actor: audit.Actor, penalty_id: uuid.UUID, reason: str
) -> Penalty:
    """Withdraw a penalty (an upheld appeal): its points no longer count and the
    suspension or ban it caused ends. Listings it delisted stay delisted until
    their supplier submits them again."""
    penalty = await get(session, penalty_id, lock=True)
    if penalty.status == "revoked":
        raise ConflictError(
            "The penalty is revoked already.",
            code="penalty.state",
            title="该处理已撤销",
            current_status=penalty.status,
            allowed=["in_force", "expired"],
        )
    now = _now()
    before = penalty.status
    penalty.status, penalty.revoked_at, penalty.revoked_reason = "revoked", now, reason
    org = await session.get_one(Organisation, penalty.supplier_id, with_for_update=True)
    caused_by_this = (
        penalty.ends_at is not None
        and org.status_until == penalty.ends_at
        and penalty.ends_at > now
    )
    if caused_by_this and org.status == OrgStatus.SUSPENDED.value:
        await standing.change(
            session, actor, org.id, OrgStatus.ACTIVE, reason=f"处理已撤销：{reason}"
        )
    elif caused_by_this and org.status == OrgStatus.EXPELLED.value:
        # Expulsion is final in the standing rules; only a revoked penalty undoes it.
        org.status, org.status_until, org.status_reason = (
            OrgStatus.ACTIVE.value,
            None,
            f"处理已撤销：{reason}",
        )
        await audit.record(
            session,
            actor=actor,
            action="supplier.reinstated",
            subject_type="organisation",
            subject_id=org.id,
            before={"status": "expelled"},
            after={"status": "active", "penalty_id": penalty.id},
            note=reason,
        )
    await audit.record(
        session,
        actor=actor,
        action="penalty.revoked",
        subject_type="penalty",
        subject_id=penalty.id,
        before={"status": before},
        after={"status": "revoked"},
        note=reason,
    )
    await notify(
        session,
        org_id=penalty.supplier_id,
        kind="penalty.revoked",
        title_zh="对贵单位的失信行为处理已撤销",
        title_en="A penalty against your organisation was revoked",
        body_zh=reason,
        body_en=reason,
        subject=("penalty", penalty.id),
    )
    return penalty


async def expire_ended(session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Suspensions and bans whose end has passed are expired (the points still count
    towards the score until restored; see ``mall.penalties.score``)."""
    now = now or _now()
    ids = (
        await session.scalars(
            update(Penalty)
            .where(
                Penalty.status == "in_force",
                Penalty.ends_at.is_not(None),
                Penalty.ends_at <= now,
            )
            .values(status="expired", updated_at=now)
            .returning(Penalty.id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if ids:
        await audit.record_many(
            session,
            [
                audit.Event(
                    actor=audit.SYSTEM,
                    action="penalty.expired",
                    subject_type="penalty",
                    subject_id=penalty_id,
                    before={"status": "in_force"},
                    after={"status": "expired"},
                )
                for penalty_id in ids
            ],
        )
    return len(ids)


async def of_supplier(session: AsyncSession, supplier_id: uuid.UUID) -> Sequence[Penalty]:
    return (
        await session.scalars(
            select(Penalty)
            .where(Penalty.supplier_id == supplier_id)
            .order_by(Penalty.imposed_at.desc())
        )
    ).all()


@dataclass(frozen=True, slots=True)
class CreditScore:
    supplier_id: uuid.UUID
    score: Decimal
    grade: str


async def scores(
    session: AsyncSession, supplier_ids: Sequence[uuid.UUID], now: dt.datetime | None = None
) -> dict[uuid.UUID, CreditScore]:
    """Credit scores of several suppliers, from their penalties that count."""
    now = now or _now()
    restored_before = now - dt.timedelta(days=credit_score.RESTORED_DAYS)
    rows = (
        await session.execute(
            select(Penalty.supplier_id, Penalty.points, Penalty.imposed_at).where(
                Penalty.supplier_id.in_(supplier_ids),
                Penalty.status != "revoked",
                Penalty.imposed_at > restored_before,
            )
        )
    ).all()
    deductions: dict[uuid.UUID, list[credit_score.Deduction]] = {sid: [] for sid in supplier_ids}
    for supplier_id, points, imposed_at in rows:
        deductions[supplier_id].append(credit_score.Deduction(points, imposed_at))
    result = {}
    for supplier_id, items in deductions.items():
        value = credit_score.score(items, now)
        result[supplier_id] = CreditScore(supplier_id, value, credit_score.grade(value))
    return result


async def score_of(session: AsyncSession, supplier_id: uuid.UUID) -> CreditScore:
    return (await scores(session, [supplier_id]))[supplier_id]


async def published(
    session: AsyncSession, *, in_force_only: bool, limit: int, offset: int
) -> Sequence[tuple[Penalty, PenaltyKind, Organisation]]:
    """Penalties for the public: in force, or the whole history (revoked ones marked)."""
    query = (
        select(Penalty, PenaltyKind, Organisation)
        .join(PenaltyKind, PenaltyKind.code == Penalty.code)
        .join(Organisation, Organisation.id == Penalty.supplier_id)
        .order_by(Penalty.imposed_at.desc(), Penalty.id)
        .limit(limit)
        .offset(offset)
    )
    if in_force_only:
        query = query.where(Penalty.status == "in_force")
    return [(row[0], row[1], row[2]) for row in await session.execute(query)]
