"""Price scans and violations: each new violation gets a 5-working-day
``price_fix`` clock and a notice to its supplier; a fixed price (or a moved
baseline) resolves it and meets the clock. One audit event per scan."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Category, Listing, ListingRevision
from mall import audit
from mall.auth.principal import Principal
from mall.calendar.service import load_calendar
from mall.cases.models import Case
from mall.errors import ConflictError, NotFoundError
from mall.jobs.outbox import enqueue_job
from mall.notifications.models import Notification
from mall.notifications.service import notify
from mall.notifications.texts import deadline_en, deadline_zh
from mall.penalties import service as penalties
from mall.settings import Settings
from mall.sla import service as sla
from mall.sla.models import SlaClock
from mall.suppliers.models import OperatorCase
from pricing_monitor import observations
from pricing_monitor.models import PriceScan, PriceViolation
from pricing_monitor.policy import DEFAULT_POLICY, BaselinePolicy
from pricing_monitor.scan import scan

SCAN_JOB = "run_price_scan"
CLOCK = "price_fix"


async def request_scan(session: AsyncSession, trigger: str, actor: audit.Actor) -> PriceScan:
    record = PriceScan(trigger=trigger, status="queued")
    session.add(record)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="pricing.scan_requested",
        subject_type="price_scan",
        subject_id=record.id,
        after={"trigger": trigger},
    )
    await enqueue_job(session, SCAN_JOB, key=record.id, scan_id=str(record.id))
    return record


RECOMPUTE_JOB = "pricing.recompute_policy"
log = structlog.get_logger("mall.pricing")


async def policy_changed(session: AsyncSession, category: Category) -> None:
    """A category's price policy changed: compute its baselines after commit, then scan."""
    await enqueue_job(
        session,
        RECOMPUTE_JOB,
        # The time too: a policy set again later must be computed again (a job id
        # is refused while an earlier run's result is kept).
        key=f"{category.code}:{category.price_policy_key}:{int(time.time())}",
        category_code=category.code,
    )


async def recompute_policy(
    session: AsyncSession, category_code: str, now: dt.datetime | None = None
) -> int:
    """Compute every observed product's baseline under the category's policy.

    Until now the baselines of a new policy only appeared with the next
    import; this fills them at once, in chunks with progress in the log, and
    asks for a scan. Rerunning it rewrites the same rows (upserts).
    """
    now = now or dt.datetime.now(dt.UTC)
    category = (
        await session.scalars(select(Category).where(Category.code == category_code))
    ).one_or_none()
    if category is None:
        return 0
    policy: BaselinePolicy = (
        BaselinePolicy.from_dict(category.price_policy) if category.price_policy else DEFAULT_POLICY
    )
    identities = sorted(await observations.all_identities(session))
    written = 0
    step = 20_000  # identities per set-based statement
    for start in range(0, len(identities), step):
        chunk = set(identities[start : start + step])
        written += await observations.recompute_baselines(
            session, chunk, now, only={category.price_policy_key: policy}
        )
        log.info(
            "baseline_policy_progress",
            category=category_code,
            policy_key=category.price_policy_key,
            done=min(start + step, len(identities)),
            total=len(identities),
        )
    await audit.record(
        session,
        actor=audit.SYSTEM,
        action="pricing.policy_baselines_computed",
        subject_type="category",
        subject_id=category_code,
        after={"policy_key": category.price_policy_key, "baselines": written},
    )
    await request_scan(session, "policy_change", audit.SYSTEM)
    return written


async def run(
    session: AsyncSession,
    settings: Settings,
    *,
    scan_id: uuid.UUID | None = None,
    listing_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> PriceScan | None:
    """Scan (all live listings, or one) and follow up what changed."""
    now = now or dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    record = await session.get(PriceScan, scan_id, with_for_update=True) if scan_id else None
    if record is not None and record.status == "done":
        return record
    result = await scan(session, now, listing_id)
    if result.opened:
        due = (await load_calendar(session)).deadline(now, settings.sla.days_for(CLOCK))
        # Every clock opened by this scan starts now and ends at the same time: one statement.
        await session.execute(
            text(
                "INSERT INTO sla_clock (id, subject_type, subject_id, kind, responsible_org_id,"
                " started_at, working_days, due_at, provisional, paused_working_days, created_at,"
                " updated_at) SELECT gen_random_uuid(), 'price_violation', CAST(v.id AS text),"
                " :kind, v.supplier_id, :now, :days, :due, :provisional, 0, :now, :now"
                " FROM price_violation v WHERE v.id = ANY(CAST(:ids AS uuid[]))"
            ),
            {
                "kind": CLOCK,
                "now": now,
                "days": settings.sla.days_for(CLOCK),
                "due": due.due_at,
                "provisional": due.provisional,
                "ids": [str(v) for v, _, _ in result.opened],
            },
        )
        counts: dict[uuid.UUID, int] = {}
        first: dict[uuid.UUID, uuid.UUID] = {}
        for _, listing, supplier in result.opened:
            counts[supplier] = counts.get(supplier, 0) + 1
            first.setdefault(supplier, listing)
        titles = await _live_titles(session, list(first.values()))
        await session.execute(
            Notification.__table__.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "org_id": supplier,
                    "kind": "pricing.violation_opened",
                    **_violation_notice(titles.get(first[supplier], ""), n, due.due_at),
                    "subject_type": "price_violation",
                    "created_at": now,
                    "updated_at": now,
                }
                for supplier, n in counts.items()
            ],
        )
    if result.resolved:
        await session.execute(
            update(SlaClock)
            .where(
                SlaClock.subject_type == "price_violation",
                SlaClock.kind == CLOCK,
                SlaClock.subject_id.in_([str(v) for v in result.resolved]),
                SlaClock.met_at.is_(None),
            )
            .values(met_at=now, updated_at=now)
        )
    if result.opened or result.resolved or record is not None:
        ids = ",".join(sorted(str(v) for v, _, _ in result.opened))
        await audit.record(
            session,
            actor=audit.SYSTEM,
            action="pricing.scanned",
            subject_type="price_scan",
            subject_id=record.id if record else f"listing:{listing_id}",
            after={
                "scanned": result.scanned,
                "matched": result.matched,
                "opened": len(result.opened),
                "resolved": len(result.resolved),
                "opened_ids_sha256": hashlib.sha256(ids.encode()).hexdigest(),
            },
        )
    if record is not None:
        record.status, record.finished_at = "done", now
        record.scanned, record.matched = result.scanned, result.matched
        record.violations_opened, record.violations_resolved = (
            len(result.opened),
            len(result.resolved),
        )
        record.duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return record


async def get_scan(session: AsyncSession, scan_id: uuid.UUID) -> PriceScan:
    record = await session.get(PriceScan, scan_id)
    if record is None:
        raise NotFoundError(
            "No such scan.", code="pricing.scan_not_found", title="未找到该价格巡检"
        )
    return record


async def violations(
    session: AsyncSession,
    principal: Principal,
    status: str | None,
    limit: int = 200,
    offset: int = 0,
) -> Sequence[tuple[PriceViolation, dt.datetime | None]]:
    """Operators and regulators see all; a supplier sees its own."""
    query = (
        select(PriceViolation, SlaClock.due_at)
        .outerjoin(
            SlaClock,
            (SlaClock.subject_type == "price_violation")
            & (SlaClock.subject_id == func.cast(PriceViolation.id, SlaClock.subject_id.type))
            & (SlaClock.kind == CLOCK),
        )
        .order_by(PriceViolation.opened_at.desc(), PriceViolation.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if principal.org_kind.value == "supplier":
        query = query.where(PriceViolation.supplier_id == principal.org_id)
    if status:
        query = query.where(PriceViolation.status == status)
    return [(row[0], row[1]) for row in await session.execute(query)]


async def _live_titles(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The titles of these listings' live revisions (one query)."""
    rows = await session.execute(
        select(Listing.id, ListingRevision.title)
        .join(ListingRevision, ListingRevision.id == Listing.live_revision_id)
        .where(Listing.id.in_(ids))
    )
    return {listing_id: title for listing_id, title in rows.all()}


def _violation_notice(title: str, n: int, due_at: dt.datetime) -> dict[str, str]:
    """A supplier's notice of listings priced above the market: which, and until when."""
    name = title[:30]
    what_zh = f"商品“{name}”" if n == 1 else f"商品“{name}”等 {n} 件商品"
    what_en = (
        f"Your listing “{name}” is" if n == 1 else f"Your listing “{name}” and {n - 1} more are"
    )
    return {
        "title_zh": f"{what_zh}价格高于市场价，请于 {deadline_zh(due_at)}前调整",
        "title_en": f"{what_en} priced above the market; adjust by {deadline_en(due_at)}",
        "body_zh": "逾期未整改的商品将被下架并记录信用。",
        "body_en": "Listings not remedied in time are delisted and recorded in the credit record.",
    }


async def enforce_deadlines(session: AsyncSession, now: dt.datetime | None = None) -> int:
    """Violations still open when their price_fix clock runs out: the listing is
    delisted, the violation closed as unremedied, and an operator case records
    ``PRICE.UNREMEDIED`` for the supplier's credit. Returns how many."""
    now = now or dt.datetime.now(dt.UTC)
    rows = (
        await session.execute(
            select(PriceViolation, SlaClock)
            .join(
                SlaClock,
                (SlaClock.subject_type == "price_violation")
                & (SlaClock.subject_id == func.cast(PriceViolation.id, SlaClock.subject_id.type))
                & (SlaClock.kind == CLOCK),
            )
            .where(
                PriceViolation.status == "open",
                SlaClock.met_at.is_(None),
                SlaClock.paused_since.is_(None),
                SlaClock.due_at < now,
            )
            .with_for_update(of=PriceViolation, skip_locked=True)
        )
    ).all()
    if not rows:
        return 0
    listing_ids = [violation.listing_id for violation, _ in rows]
    await session.execute(
        update(Listing)
        .where(Listing.id.in_(listing_ids), Listing.delisted_at.is_(None))
        .values(status="delisted", delisted_at=now, updated_at=now)
    )
    for violation, clock in rows:
        violation.status, violation.resolution, violation.resolved_at = (
            "delisted",
            "unremedied",
            now,
        )
        clock.breached_at = clock.breached_at or now
        matter = OperatorCase(
            case_type="price_unremedied",
            subject_type="organisation",
            subject_id=str(violation.supplier_id),
            summary_zh=f"价格超出市场价逾期未整改，已下架（偏离 {violation.deviation_pct}%）",
            summary_en=f"Price {violation.deviation_pct}% above market, not remedied: delisted",
            details={
                "code": "PRICE.UNREMEDIED",
                "violation_id": str(violation.id),
                "listing_id": str(violation.listing_id),
                "baseline_price": str(violation.baseline_price),
                "listing_price": str(violation.listing_price),
            },
        )
        session.add(matter)
        await session.flush()
        # The credit record: an automatic PRICE.UNREMEDIED penalty, linked to the matter.
        await penalties.apply(
            session,
            audit.SYSTEM,
            supplier_id=violation.supplier_id,
            code="PRICE.UNREMEDIED",
            reason=f"价格偏离市场基准价 {violation.deviation_pct}% 逾期未整改",
            operator_case_id=matter.id,
            now=now,
        )
        name = (await _live_titles(session, [violation.listing_id])).get(violation.listing_id, "")
        await notify(
            session,
            org_id=violation.supplier_id,
            kind="pricing.violation_unremedied",
            title_zh=f"商品“{name[:30]}”因价格逾期未整改已被下架",
            title_en=f"Your listing “{name[:30]}” was delisted: its price was not remedied in time",
            body_zh=f"偏离市场基准价 {violation.deviation_pct}%",
            body_en=f"{violation.deviation_pct}% above the baseline",
            subject=("listing", violation.listing_id),
        )
    await audit.record_many(
        session,
        [
            audit.Event(
                actor=audit.SYSTEM,
                action="pricing.violation_unremedied",
                subject_type="listing",
                subject_id=violation.listing_id,
                after={
                    "violation_id": violation.id,
                    "code": "PRICE.UNREMEDIED",
                    "status": "delisted",
                    "deviation_pct": violation.deviation_pct,
                },
            )
            for violation, _ in rows
        ],
    )
    return len(rows)


async def _own_open_violation(
    session: AsyncSession, principal: Principal, violation_id: uuid.UUID
) -> PriceViolation:
    violation = (
        await session.scalars(
            select(PriceViolation)
            .where(
                PriceViolation.id == violation_id, PriceViolation.supplier_id == principal.org_id
            )
            .with_for_update()
        )
    ).one_or_none()
    if violation is None:
        raise NotFoundError(
            "No such violation among yours.",
            code="pricing.violation_not_found",
            title="未找到该价格违规",
        )
    if violation.status != "open":
        raise ConflictError(
            "Only an open violation can be objected to.",
            code="pricing.violation_state",
            title="该违规已处理",
            current_status=violation.status,
            allowed=["open"],
        )
    return violation


async def object_to(
    session: AsyncSession, principal: Principal, violation_id: uuid.UUID, reason: str
) -> OperatorCase:
    """The supplier disputes a violation within its window: the clock stops and operators decide."""
    violation = await _own_open_violation(session, principal, violation_id)
    existing = (
        await session.scalars(
            select(OperatorCase).where(
                OperatorCase.case_type == "price_objection",
                OperatorCase.subject_id == str(violation.id),
                OperatorCase.status == "open",
            )
        )
    ).first()
    if existing is None:  # filed as a case (POST /api/v1/cases) instead
        existing = (
            await session.scalars(
                select(Case.id).where(
                    Case.case_type == "objection",
                    Case.subject_type == "price_violation",
                    Case.subject_id == str(violation.id),
                    Case.status.in_(("submitted", "accepted", "investigating")),
                )
            )
        ).first()
    if existing is not None:
        raise ConflictError(
            "An objection to this violation is already open.",
            code="pricing.objection_open",
            title="已提交异议，正在处理",
        )
    actor = audit.Actor.of(principal)
    await sla.pause(
        session,
        subject_type="price_violation",
        subject_id=violation.id,
        kind=CLOCK,
        reason="objection",
        actor=actor,
    )
    case = OperatorCase(
        case_type="price_objection",
        subject_type="price_violation",
        subject_id=str(violation.id),
        summary_zh=f"供应商对价格违规提出异议：{reason[:100]}",
        summary_en=f"Objection to a price violation: {reason[:100]}",
        details={
            "reason": reason,
            "listing_id": str(violation.listing_id),
            "supplier_id": str(violation.supplier_id),
        },
    )
    session.add(case)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="pricing.objection_filed",
        subject_type="price_violation",
        subject_id=violation.id,
        after={"case_id": case.id},
        note=reason,
    )
    return case


async def decide_objection(
    session: AsyncSession, principal: Principal, violation_id: uuid.UUID, *, uphold: bool, note: str
) -> PriceViolation:
    """Upheld: the violation is withdrawn. Dismissed: its clock runs again."""
    violation = await session.get(PriceViolation, violation_id, with_for_update=True)
    case = (
        await session.scalars(
            select(OperatorCase)
            .where(
                OperatorCase.case_type == "price_objection",
                OperatorCase.subject_id == str(violation_id),
                OperatorCase.status == "open",
            )
            .with_for_update()
        )
    ).first()
    if violation is None or case is None:
        raise NotFoundError(
            "No open objection to this violation.",
            code="pricing.objection_not_found",
            title="该违规没有待处理的异议",
        )
    now = dt.datetime.now(dt.UTC)
    actor = audit.Actor.of(principal)
    case.status = "upheld" if uphold else "dismissed"
    if uphold:
        violation.status, violation.resolution, violation.resolved_at = (
            "resolved",
            "objection_upheld",
            now,
        )
        await sla.meet(
            session, subject_type="price_violation", subject_id=violation.id, kind=CLOCK, at=now
        )
    else:
        await sla.resume(
            session,
            await load_calendar(session),
            subject_type="price_violation",
            subject_id=violation.id,
            kind=CLOCK,
            actor=actor,
            at=now,
        )
    await audit.record(
        session,
        actor=actor,
        action=f"pricing.objection_{case.status}",
        subject_type="price_violation",
        subject_id=violation.id,
        after={"case_id": case.id, "violation_status": violation.status},
        note=note,
    )
    await notify(
        session,
        org_id=violation.supplier_id,
        kind=f"pricing.objection_{case.status}",
        title_zh="价格异议已成立，违规已撤销" if uphold else "价格异议未成立，请按期整改",
        title_en="Your objection was upheld"
        if uphold
        else "Your objection was dismissed; the deadline runs again",
        body_zh=note,
        body_en=note,
        subject=("price_violation", violation.id),
    )
    return violation
