"""Use cases around listings: each catalogue change is audited in its
transaction; submissions queue a review job; the job decides with the rules
engine; what the engine cannot decide goes to operators."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import structlog
from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog import images as image_tools
from catalog import listings, review
from catalog.models import Listing, ListingImage, ListingRevision, ReviewDecision
from mall import audit
from mall.auth.active import require_active_supplier
from mall.auth.models import Organisation, supplier_category
from mall.auth.principal import Principal
from mall.calendar.service import load_calendar
from mall.cases.models import Case
from mall.errors import ConflictError, InvalidError, NotFoundError
from mall.jobs.outbox import enqueue_job
from mall.notifications.service import notify
from mall.pricing import service as pricing
from mall.search import service as search
from mall.settings import Settings, get_settings
from mall.sla import service as sla
from mall.sla.models import SlaClock
from mall.storage import FileStore
from mall.suppliers import documents
from review_rules import SupplierFacts, evaluate

log = structlog.get_logger("mall.listings")

REVIEW_JOB = "review_listing_revision"
IMAGE_JOB = "process_listing_image"
CLOCK = "listing_review"
REJECTION_CODES = {
    "FALSE_INFORMATION": "信息不实",
    "PROHIBITED_CLAIM": "含违规宣传用语",
    "PRICE_TOO_HIGH": "价格高于市场价",
    "POOR_IMAGES": "图片不符合要求",
    "WRONG_CATEGORY": "品目错误",
    "DUPLICATE": "重复铺货",
    "OTHER": "其他",
}
REJECTION_CODES_EN = {
    "FALSE_INFORMATION": "false information",
    "PROHIBITED_CLAIM": "prohibited advertising claims",
    "PRICE_TOO_HIGH": "price above the market",
    "POOR_IMAGES": "images do not meet the requirements",
    "WRONG_CATEGORY": "wrong category",
    "DUPLICATE": "duplicate listing",
    "OTHER": "other",
}


def _revision_summary(revision: ListingRevision) -> dict[str, Any]:
    return {
        "revision": revision.number,
        "status": revision.status,
        "title": revision.title,
        "brand": revision.brand,
        "model": revision.model,
        "price": revision.price,
        "unit": revision.unit,
    }


async def create(
    session: AsyncSession, principal: Principal, data: dict[str, Any], *, submit: bool
) -> tuple[Listing, ListingRevision]:
    await require_active_supplier(session, principal)
    listing, revision = await listings.create(session, principal.org_id, data)
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="listing.created",
        subject_type="listing",
        subject_id=listing.id,
        after=_revision_summary(revision),
    )
    if submit:
        revision = await submit_listing(session, principal, listing.id)
    return listing, revision


async def edit(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID, changes: dict[str, Any]
) -> ListingRevision:
    """Edit a listing: a new revision to review, or the stock alone changed at once."""
    await require_active_supplier(session, principal)
    result = await listings.edit(session, principal.org_id, listing_id, changes)
    if isinstance(result, listings.StockChange):
        await audit.record(
            session,
            actor=audit.Actor.of(principal),
            action="listing.stock_changed",
            subject_type="listing",
            subject_id=listing_id,
            before={"stock_by_revision": result.before},
            after={"stock": result.after},
        )
        return result.revision
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="listing.edited",
        subject_type="listing",
        subject_id=listing_id,
        after=_revision_summary(result) | {"changed": sorted(changes)},
    )
    return result


async def submit_listing(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID
) -> ListingRevision:
    """Submit the newest revision (a rejected one is copied into a new one) for review."""
    await require_active_supplier(session, principal)
    revision = await listings.submit(session, principal.org_id, listing_id)
    return await _submitted(session, principal, revision, "listing.submitted")


async def relist(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID
) -> ListingRevision:
    """A delisted listing's live content, reviewed again under the active ruleset."""
    await require_active_supplier(session, principal)
    revision = await listings.relist(session, principal.org_id, listing_id)
    return await _submitted(session, principal, revision, "listing.relist_submitted")


async def _submitted(
    session: AsyncSession, principal: Principal, revision: ListingRevision, action: str
) -> ListingRevision:
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action=action,
        subject_type="listing",
        subject_id=revision.listing_id,
        after=_revision_summary(revision),
    )
    await enqueue_job(session, REVIEW_JOB, key=revision.id, revision_id=str(revision.id))
    return revision


async def delete(session: AsyncSession, principal: Principal, listing_id: uuid.UUID) -> None:
    """Remove a draft or rejected listing that never went on sale (audited)."""
    listing = await listings.get_owned(session, principal.org_id, listing_id, lock=True)
    revision = await listings.current(session, listing)
    decisions = [
        str(d)
        for d in (
            await session.scalars(
                select(ReviewDecision.id).where(ReviewDecision.listing_id == listing.id)
            )
        ).all()
    ]
    named = await session.scalar(
        select(Case.id)
        .where(
            ((Case.subject_type == "listing") & (Case.subject_id == str(listing.id)))
            | ((Case.subject_type == "review_decision") & Case.subject_id.in_(decisions))
        )
        .limit(1)
    )
    if named is not None:
        raise ConflictError(
            "A case names this listing or its review; it is kept as the case's record.",
            code="catalog.listing_not_deletable",
            title="该商品或其审核决定已被案件引用，不能删除",
            case_id=named,
        )
    await listings.delete(session, principal.org_id, listing_id)
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="listing.deleted",
        subject_type="listing",
        subject_id=listing_id,
        before=_revision_summary(revision),
    )


async def withdraw(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID
) -> ListingRevision:
    revision = await listings.withdraw(session, principal.org_id, listing_id)
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="listing.withdrawn",
        subject_type="listing",
        subject_id=listing_id,
        after=_revision_summary(revision),
    )
    return revision


async def delist(
    session: AsyncSession, principal: Principal, listing_id: uuid.UUID, reason: str
) -> Listing:
    supplier_id = principal.org_id if principal.org_kind.value == "supplier" else None
    listing = await listings.delist(session, supplier_id, listing_id)
    await search.request_sync(session)
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="listing.delisted",
        subject_type="listing",
        subject_id=listing_id,
        after={"status": "delisted"},
        note=reason,
    )
    if supplier_id is None:
        shown = await listings.revision(
            session, listing.live_revision_id or listing.current_revision_id
        )
        name = shown.title[:30] if shown else str(listing.id)
        await notify(
            session,
            org_id=listing.supplier_id,
            kind="listing.delisted",
            title_zh=f"商品“{name}”已被运营机构下架",
            title_en=f"An operator delisted your listing “{name}”",
            body_zh=reason,
            body_en=reason,
            subject=("listing", listing.id),
        )
    return listing


# ------------------------------------------------------------------ images


async def add_image(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    listing_id: uuid.UUID,
    content: bytes,
    max_bytes: int,
) -> ListingImage:
    """Check the upload now (by content, off the event loop); clean and measure it in the worker."""
    listing = await listings.get_owned(session, principal.org_id, listing_id, lock=True)
    if len(content) > max_bytes:
        raise InvalidError(
            f"The image is larger than {max_bytes} bytes.",
            code="catalog.image_too_large",
            title="图片文件过大",
            errors=[{"field": "file", "message": f"at most {max_bytes} bytes"}],
        )
    media_type, _, _ = await asyncio.to_thread(image_tools.check, content)
    digest = FileStore(settings.mall.files_dir).put(content)
    image = ListingImage(
        listing_id=listing.id,
        supplier_id=principal.org_id,
        position=await review.next_image_position(session, listing.id),
        status="pending",
        original_sha256=digest,
        media_type=media_type,
    )
    session.add(image)
    await session.flush()
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="listing.image_added",
        subject_type="listing",
        subject_id=listing.id,
        after={"image_id": image.id, "position": image.position, "sha256": digest},
    )
    await enqueue_job(session, IMAGE_JOB, key=image.id, image_id=str(image.id))
    return image


async def process_image(session: AsyncSession, settings: Settings, image_id: uuid.UUID) -> str:
    """Clean, measure and thumbnail one image; idempotent."""
    image = await session.get(ListingImage, image_id, with_for_update=True)
    if image is None:
        raise NotFoundError(f"image {image_id} does not exist", code="catalog.image_not_found")
    if image.status != "pending":
        return image.status
    store = FileStore(settings.mall.files_dir)
    try:
        processed = await asyncio.to_thread(image_tools.process, store.get(image.original_sha256))
    except Exception as exc:  # a file that passed the upload check but fails here
        image.status, image.error = "failed", str(exc)[:500]
        return image.status
    image.sha256 = store.put(processed.content)
    image.thumbnails = {str(size): store.put(data) for size, data in processed.thumbnails.items()}
    image.width, image.height = processed.width, processed.height
    image.phash, image.border_whiteness = processed.phash, processed.border_whiteness
    image.media_type, image.status = processed.media_type, "ready"
    return image.status


# ------------------------------------------------------------------ review


async def supplier_facts(session: AsyncSession, supplier_id: uuid.UUID) -> SupplierFacts:
    org = await session.get_one(Organisation, supplier_id)
    granted = (
        await session.scalars(
            select(supplier_category.c.category_code).where(
                supplier_category.c.org_id == supplier_id
            )
        )
    ).all()
    status = await documents.status(session, supplier_id)
    return SupplierFacts(
        supplier_id=str(supplier_id),
        status=org.status,
        all_categories=org.all_categories,
        granted_categories=frozenset(granted),
        blocking_documents=tuple(status.blocking),
    )


async def review_revision(
    session: AsyncSession, settings: Settings, revision_id: uuid.UUID
) -> str | None:
    """The review job: facts → rules → decision. Returns the outcome, or None
    when the revision is no longer waiting (withdrawn, superseded, decided)."""
    started = time.perf_counter()
    revision = await session.get(ListingRevision, revision_id, with_for_update=True)
    if revision is None or revision.status != "submitted":
        return None
    for image in (
        await session.scalars(
            select(ListingImage).where(
                ListingImage.listing_id == revision.listing_id, ListingImage.status == "pending"
            )
        )
    ).all():
        await process_image(session, settings, image.id)  # the image job may not have run yet
    ruleset = await review.active_ruleset(session)
    facts = await review.build_facts(
        session,
        revision,
        await supplier_facts(session, revision.supplier_id),
        ruleset.abnormally_low_pct,
    )
    gathered = time.perf_counter()
    decision = evaluate(facts, ruleset)
    decided = time.perf_counter()
    await search.request_sync(session)
    stored = await review.apply_decision(
        session,
        revision,
        outcome=decision.outcome.value,
        ruleset_version=decision.ruleset_version,
        findings=review.findings_json(decision),
        facts_sha256=review.facts_digest(facts),
        timings_ms={
            "facts": round((gathered - started) * 1000, 2),
            "rules": round((decided - gathered) * 1000, 3),
        },
    )
    await audit.record(
        session,
        actor=audit.SYSTEM,
        action=f"listing.review.{decision.outcome.value}",
        subject_type="listing",
        subject_id=revision.listing_id,
        after={
            "revision": revision.number,
            "ruleset": decision.ruleset_version,
            "rules": sorted({f.rule_id for f in decision.findings}),
            "decision_id": stored.id,
        },
    )
    if decision.outcome.value == "approved":
        # A new live price: re-check this listing against its baseline now.
        await pricing.run(session, settings, listing_id=revision.listing_id)
    if decision.outcome.value == "manual_review":
        await sla.start(
            session,
            await load_calendar(session),
            settings.sla,
            subject_type="listing_revision",
            subject_id=revision.id,
            kind=CLOCK,
            responsible_org_id=None,
        )
    else:
        await _notify_outcome(
            session,
            revision,
            decision.outcome.value,
            [
                (f.message_zh, f.message_en)
                for f in decision.findings
                if f.severity.value == "block"
            ],
        )
    return decision.outcome.value


async def _notify_outcome(
    session: AsyncSession,
    revision: ListingRevision,
    outcome: str,
    reasons: list[tuple[str, str]],
) -> None:
    """Tell the supplier, naming the listing; ``reasons`` are (Chinese, English) pairs."""
    name = revision.title[:30]
    if outcome == "approved":
        title_zh, title_en = (
            f"商品“{name}”已通过审核并上架",
            f"Your listing “{name}” is approved and on sale",
        )
    else:
        title_zh, title_en = (
            f"商品“{name}”未通过审核",
            f"Your listing “{name}” was rejected",
        )
    await notify(
        session,
        org_id=revision.supplier_id,
        kind=f"listing.{outcome}",
        title_zh=title_zh,
        title_en=title_en,
        body_zh="；".join(zh for zh, _ in reasons),
        body_en="; ".join(en for _, en in reasons),
        subject=("listing", revision.listing_id),
    )


async def queue(
    session: AsyncSession, limit: int = 100, offset: int = 0
) -> list[tuple[ListingRevision, SlaClock]]:
    """Revisions waiting for an operator, soonest due first."""
    rows = await session.execute(
        select(ListingRevision, SlaClock)
        .join(
            SlaClock,
            (SlaClock.subject_type == "listing_revision")
            & (SlaClock.subject_id == cast(ListingRevision.id, String))
            & (SlaClock.kind == CLOCK),
        )
        .where(ListingRevision.status == "manual_review")
        .order_by(SlaClock.due_at, ListingRevision.id)
        .limit(limit)
        .offset(offset)
    )
    return [(row[0], row[1]) for row in rows]


async def _waiting(session: AsyncSession, revision_id: uuid.UUID) -> ListingRevision:
    revision = await session.get(ListingRevision, revision_id, with_for_update=True)
    if revision is None:
        raise NotFoundError(
            "No such revision.", code="catalog.revision_not_found", title="未找到该商品版本"
        )
    if revision.status != "manual_review":
        raise ConflictError(
            f"The revision is {revision.status}, not waiting for review.",
            code="catalog.listing_state",
            title="该商品不在人工审核中",
            current_status=revision.status,
            allowed=["manual_review"],
        )
    return revision


async def claim(
    session: AsyncSession, principal: Principal, revision_id: uuid.UUID
) -> ListingRevision:
    revision = await _waiting(session, revision_id)
    _claim_for(revision, principal)
    return revision


def _claim_for(revision: ListingRevision, principal: Principal) -> None:
    if revision.claimed_by not in (None, principal.user_id):
        raise ConflictError(
            "Another operator has claimed this listing.",
            code="catalog.review_claimed",
            title="该商品已由其他审核人员领取",
            claimed_by=revision.claimed_by,
        )
    revision.claimed_by = principal.user_id


async def decide_manually(
    session: AsyncSession,
    principal: Principal,
    revision_id: uuid.UUID,
    *,
    approve: bool,
    reason_codes: list[str],
    note: str,
) -> ReviewDecision:
    revision = await _waiting(session, revision_id)
    # Deciding claims the revision for the operator; another operator's claim stands.
    _claim_for(revision, principal)
    unknown = sorted(set(reason_codes) - set(REJECTION_CODES))
    if not approve and (not reason_codes or unknown):
        raise InvalidError(
            "Give one or more known reason codes.",
            code="catalog.rejection_codes",
            title="请选择驳回原因",
            errors=[
                {"field": "reason_codes", "message": f"known codes: {', '.join(REJECTION_CODES)}"}
            ],
        )
    previous = await session.scalar(
        select(ReviewDecision)
        .where(ReviewDecision.revision_id == revision.id)
        .order_by(ReviewDecision.created_at.desc())
        .limit(1)
    )
    outcome = "approved" if approve else "rejected"
    findings = (
        []
        if approve
        else [
            {
                "rule_id": f"MANUAL.{code}",
                "severity": "block",
                "field": "listing",
                "evidence": note,
                "message_zh": REJECTION_CODES[code],
                "message_en": code.replace("_", " ").lower(),
            }
            for code in reason_codes
        ]
    )
    await search.request_sync(session)
    stored = await review.apply_decision(
        session,
        revision,
        outcome=outcome,
        ruleset_version=previous.ruleset_version if previous else "manual",
        findings=findings,
        facts_sha256=previous.facts_sha256 if previous else "",
        decided_by=principal.user_id,
        note=note,
    )
    await sla.meet(session, subject_type="listing_revision", subject_id=revision.id, kind=CLOCK)
    if approve:
        await pricing.run(session, get_settings(), listing_id=revision.listing_id)
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action=f"listing.review.manual_{outcome}",
        subject_type="listing",
        subject_id=revision.listing_id,
        after={"revision": revision.number, "reason_codes": reason_codes},
        note=note,
    )
    await _notify_outcome(
        session,
        revision,
        outcome,
        [(REJECTION_CODES[c], REJECTION_CODES_EN[c]) for c in reason_codes]
        + ([(note, note)] if note else []),
    )
    return stored
