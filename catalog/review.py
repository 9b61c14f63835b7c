"""Turning a revision into review facts, storing decisions, applying them.

The supplier's standing is not the catalogue's to know: the caller passes it
in as ``SupplierFacts``. Everything else (category, images, market baseline,
duplicates, reused images) is read here, in a few set-based queries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog import categories
from catalog.models import Listing, ListingImage, ListingRevision, ReviewDecision, StoredRuleset
from pricing_monitor import DEFAULT_POLICY, Baseline, BaselinePolicy, assess
from pricing_monitor.models import MarketBaseline
from pricing_monitor.observations import canonical_brands
from review_rules import (
    DEFAULT_RULESET,
    Decision,
    ImageFacts,
    ImageReuse,
    ListingFacts,
    MarketFacts,
    Ruleset,
    SupplierFacts,
)


async def active_ruleset(session: AsyncSession) -> Ruleset:
    stored = (
        await session.scalars(select(StoredRuleset).where(StoredRuleset.active.is_(True)))
    ).one_or_none()
    return (
        Ruleset.from_dict(stored.settings | {"version": stored.version})
        if stored
        else DEFAULT_RULESET
    )


def _key_attributes(revision: ListingRevision, required: Sequence[str]) -> dict[str, Any]:
    return {name: revision.attributes.get(name) for name in required}


async def build_facts(
    session: AsyncSession,
    revision: ListingRevision,
    supplier: SupplierFacts,
    low_pct: Decimal = Decimal("30"),
) -> ListingFacts:
    """A snapshot of everything the rules look at; ``low_pct`` is the ruleset's
    threshold for an abnormally low price."""
    category = await categories.get(session, revision.category_code)
    spec = categories.to_spec(category)
    images = (
        await session.scalars(
            select(ListingImage)
            .where(ListingImage.listing_id == revision.listing_id, ListingImage.status == "ready")
            .order_by(ListingImage.position)
        )
    ).all()
    image_facts = tuple(
        ImageFacts(i.width or 0, i.height or 0, i.phash, i.border_whiteness) for i in images
    )
    return ListingFacts(
        listing_id=str(revision.listing_id),
        title=revision.title,
        brand=revision.brand,
        model=revision.model,
        category=spec,
        attributes=revision.attributes,
        price=revision.price,
        unit=revision.unit,
        supplier=supplier,
        images=image_facts,
        market=market_assessment(
            await stored_baseline(session, revision, category.price_policy_key),
            revision.price,
            spec.price_tolerance_pct,
            low_pct,
            dt.datetime.now(dt.UTC),
        ),
        gtin=revision.gtin,
        energy_cert_no=revision.energy_cert_no,
        duplicates_of=await duplicates(
            session, revision, [a.name for a in spec.attributes if a.required]
        ),
        reused_images=await reused_images(session, revision, [i.phash for i in images if i.phash]),
    )


def market_assessment(
    stored: MarketBaseline | None,
    price: Decimal,
    tolerance_pct: Decimal,
    low_pct: Decimal,
    now: dt.datetime,
) -> MarketFacts:
    """The price monitor's assessment of a price against a stored baseline, as review facts."""
    if stored is None:
        baseline = Baseline(None, "none")
    elif stored.computed_at < now - dt.timedelta(days=DEFAULT_POLICY.freshness_days):
        baseline = Baseline(None, "stale")
    else:
        baseline = Baseline(stored.price, "ok")
    result = assess(price, baseline, BaselinePolicy(tolerance_pct=tolerance_pct), low_pct)
    return MarketFacts(
        band=result.band,
        baseline=stored.price if stored else None,
        deviation_pct=result.deviation_pct,
        tolerance_pct=tolerance_pct,
        observations=stored.observations if stored else 0,
        source=stored.source if stored else None,
    )


async def stored_baseline(
    session: AsyncSession, revision: ListingRevision, policy_key: str = "default"
) -> MarketBaseline | None:
    """The stored baseline of the listing's product, by the scan's identity rule.

    The GTIN decides when the listing and a baseline both have one; otherwise
    the canonical brand and the normalised model must both agree.
    """
    brand = (await canonical_brands(session, [revision.brand_norm]))[revision.brand_norm]
    conditions = [
        and_(MarketBaseline.brand_norm == brand, MarketBaseline.model_norm == revision.model_norm)
    ]
    if revision.gtin:
        conditions.append(MarketBaseline.gtin == revision.gtin)
    candidates = (
        await session.scalars(
            select(MarketBaseline)
            .where(or_(*conditions), MarketBaseline.policy_key == policy_key)
            .order_by(MarketBaseline.computed_at.desc())
        )
    ).all()
    if revision.gtin:
        by_gtin = [b for b in candidates if b.gtin == revision.gtin]
        if by_gtin:
            return by_gtin[0]
    return next(
        (
            b
            for b in candidates
            if b.brand_norm == brand
            and b.model_norm == revision.model_norm
            and not (revision.gtin and b.gtin and b.gtin != revision.gtin)
        ),
        None,
    )


async def duplicates(
    session: AsyncSession, revision: ListingRevision, key_attributes: Sequence[str]
) -> tuple[str, ...]:
    """The supplier's other live listings of the same brand, model and key attributes (重复铺货)."""
    rows = (
        await session.execute(
            select(Listing.id, ListingRevision)
            .join(ListingRevision, ListingRevision.id == Listing.live_revision_id)
            .where(
                Listing.supplier_id == revision.supplier_id,
                Listing.id != revision.listing_id,
                Listing.delisted_at.is_(None),
                ListingRevision.brand_norm == revision.brand_norm,
                ListingRevision.model_norm == revision.model_norm,
            )
        )
    ).all()
    mine = _key_attributes(revision, key_attributes)
    return tuple(
        str(listing_id)
        for listing_id, other in rows
        if _key_attributes(other, key_attributes) == mine
    )


async def reused_images(
    session: AsyncSession, revision: ListingRevision, phashes: Sequence[str], limit: int = 16
) -> tuple[ImageReuse, ...]:
    """Other suppliers' ready images within a small Hamming distance of ours.

    A scan with bit_count over 64-bit hashes; at millions of images this wants
    a band index (left for when the catalogue is that large).
    """
    if not phashes:
        return ()
    rows = await session.execute(
        text(
            """
            SELECT other.supplier_id, other.listing_id,
                   min(bit_count(CAST(('x' || other.phash) AS bit(64))
                                 # CAST(('x' || mine) AS bit(64)))) AS distance
            FROM listing_image other, unnest(CAST(:mine AS text[])) AS mine
            WHERE other.status = 'ready' AND other.phash IS NOT NULL
              AND other.supplier_id <> :supplier
            GROUP BY other.supplier_id, other.listing_id
            ORDER BY distance
            LIMIT :limit
            """
        ),
        {"mine": list(phashes), "supplier": revision.supplier_id, "limit": limit},
    )
    return tuple(ImageReuse(str(r.supplier_id), str(r.listing_id), int(r.distance)) for r in rows)


def facts_digest(facts: ListingFacts) -> str:
    """SHA-256 of what the rules saw (the category by its code), to tell later
    whether a decision was made on the same facts."""
    supplier = facts.supplier
    payload = {
        "listing": facts.listing_id,
        "title": facts.title,
        "brand": facts.brand,
        "model": facts.model,
        "category": facts.category.code,
        "attributes": facts.attributes,
        "price": str(facts.price),
        "unit": facts.unit,
        "gtin": facts.gtin,
        "energy_cert_no": facts.energy_cert_no,
        "supplier": [
            supplier.supplier_id,
            supplier.status,
            supplier.all_categories,
            sorted(supplier.granted_categories),
            list(supplier.blocking_documents),
        ],
        "images": [[i.width, i.height, i.phash, i.border_whiteness] for i in facts.images],
        "market": [
            facts.market.band,
            str(facts.market.baseline),
            str(facts.market.deviation_pct),
            facts.market.observations,
        ],
        "duplicates": list(facts.duplicates_of),
        "reused": [
            [r.other_supplier_id, r.other_listing_id, r.distance] for r in facts.reused_images
        ],
    }
    text_form = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text_form.encode()).hexdigest()


def findings_json(decision: Decision) -> list[dict[str, Any]]:
    return [
        {
            "rule_id": f.rule_id,
            "severity": f.severity.value,
            "field": f.field,
            "evidence": f.evidence,
            "message_zh": f.message_zh,
            "message_en": f.message_en,
        }
        for f in decision.findings
    ]


async def apply_decision(
    session: AsyncSession,
    revision: ListingRevision,
    *,
    outcome: str,
    ruleset_version: str,
    findings: list[dict[str, Any]],
    facts_sha256: str,
    timings_ms: dict[str, float] | None = None,
    decided_by: uuid.UUID | None = None,
    note: str | None = None,
) -> ReviewDecision:
    """Store the decision and move the revision and its listing accordingly."""
    now = dt.datetime.now(dt.UTC)
    decision = ReviewDecision(
        revision_id=revision.id,
        listing_id=revision.listing_id,
        outcome=outcome,
        ruleset_version=ruleset_version,
        findings=findings,
        facts_sha256=facts_sha256,
        timings_ms=timings_ms or {},
        decided_by=decided_by,
        note=note,
    )
    session.add(decision)
    listing = await session.get_one(Listing, revision.listing_id, with_for_update=True)
    revision.status = outcome
    revision.decided_at = now
    if outcome == "approved":
        if listing.live_revision_id and listing.live_revision_id != revision.id:
            await session.execute(
                update(ListingRevision)
                .where(ListingRevision.id == listing.live_revision_id)
                .values(status="superseded")
            )
        listing.live_revision_id = revision.id
        listing.delisted_at = None
    if listing.current_revision_id == revision.id:
        listing.status = outcome
    await session.flush()
    return decision


async def latest_decision(session: AsyncSession, listing: Listing) -> ReviewDecision | None:
    return (
        await session.scalars(
            select(ReviewDecision)
            .where(ReviewDecision.revision_id == listing.current_revision_id)
            .order_by(ReviewDecision.created_at.desc())
            .limit(1)
        )
    ).one_or_none()


async def automatic_decision(
    session: AsyncSession, decision: ReviewDecision
) -> ReviewDecision | None:
    """For a person's decision, the rules engine's decision on the same revision that
    sent it to them (None for the engine's own decisions)."""
    if decision.decided_by is None:
        return None
    return (
        await session.scalars(
            select(ReviewDecision)
            .where(
                ReviewDecision.revision_id == decision.revision_id,
                ReviewDecision.decided_by.is_(None),
                ReviewDecision.created_at <= decision.created_at,
            )
            .order_by(ReviewDecision.created_at.desc())
            .limit(1)
        )
    ).one_or_none()


async def next_image_position(session: AsyncSession, listing_id: uuid.UUID) -> int:
    current = await session.scalar(
        select(func.max(ListingImage.position)).where(ListingImage.listing_id == listing_id)
    )
    return 0 if current is None else int(current) + 1
