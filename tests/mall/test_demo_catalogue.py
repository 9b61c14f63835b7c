"""The demo catalogue obeys the mall's rules: a dry-run of the active ruleset
on it rejects nothing."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from catalog import review
from catalog.demo_catalogue import DEMO_PRODUCTS
from catalog.models import Listing, ListingImage, ListingRevision
from mall.auth.models import OrgKind, User
from mall.listings.service import supplier_facts
from mall.seed import DEMO_ACCOUNTS, seed_demo
from review_rules import evaluate


async def test_the_demo_catalogue_passes_the_active_ruleset(session_maker) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo(session)
    emails = [a.email for a in DEMO_ACCOUNTS if a.kind is OrgKind.SUPPLIER]
    async with session_maker() as session:
        ruleset = await review.active_ruleset(session)
        rows = (
            await session.execute(
                select(Listing, ListingRevision)
                .join(ListingRevision, ListingRevision.id == Listing.live_revision_id)
                .join(User, User.org_id == Listing.supplier_id)
                .where(User.email.in_(emails), Listing.delisted_at.is_(None))
            )
        ).all()
        assert len(rows) == len(DEMO_PRODUCTS)
        outcomes: Counter[str] = Counter()
        blocked: dict[str, list[str]] = {}
        for listing, revision in rows:
            facts = await review.build_facts(
                session,
                revision,
                await supplier_facts(session, listing.supplier_id),
                ruleset.abnormally_low_pct,
            )
            decision = evaluate(facts, ruleset)
            outcomes[decision.outcome.value] += 1
            if decision.outcome.value != "approved":
                blocked[revision.title] = [f.rule_id for f in decision.findings]
        images = await session.scalar(
            select(ListingImage.id)
            .where(ListingImage.listing_id == rows[0][0].id, ListingImage.status == "ready")
            .limit(1)
        )
    assert outcomes["rejected"] == 0, blocked
    assert outcomes["approved"] == len(DEMO_PRODUCTS), blocked  # nothing for a person either
    assert images is not None
