"""Price history of a listing, and the regulator's statistics per category."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Listing, ListingRevision, ReviewDecision
from mall.suppliers.stats import share
from pricing_monitor.models import MarketBaselineChange, PriceObservation
from pricing_monitor.observations import canonical_brands
from pricing_monitor.scan import LIVE_WITH_BASELINE, fresh_since

HISTORY_DAYS = 365


async def price_history(
    session: AsyncSession, listing: Listing, *, on_sale_only: bool = False
) -> dict[str, Any]:
    """Every revision's price, and the market observations of the same product.

    ``on_sale_only`` (purchasers): only the revisions that were on sale (the live one
    and those approved before it), not what the supplier is preparing."""
    query = select(ListingRevision).where(ListingRevision.listing_id == listing.id)
    if on_sale_only:
        approved = select(ReviewDecision.revision_id).where(
            ReviewDecision.listing_id == listing.id, ReviewDecision.outcome == "approved"
        )
        query = query.where(
            (ListingRevision.id == listing.live_revision_id) | ListingRevision.id.in_(approved)
        )
    revisions = (await session.scalars(query.order_by(ListingRevision.number))).all()
    listing_prices = [
        {
            "revision": r.number,
            "price": r.price,
            "status": r.status,
            "submitted_at": r.submitted_at,
            "decided_at": r.decided_at,
            "live": r.id == listing.live_revision_id,
        }
        for r in revisions
    ]
    market: list[dict[str, Any]] = []
    if revisions:
        latest = revisions[-1]
        brand = (await canonical_brands(session, [latest.brand_norm]))[latest.brand_norm]
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=HISTORY_DAYS)
        rows = (
            await session.scalars(
                select(PriceObservation)
                .where(
                    PriceObservation.brand_norm == brand,
                    PriceObservation.model_norm == latest.model_norm,
                    PriceObservation.observed_at >= since,
                )
                .order_by(PriceObservation.observed_at)
            )
        ).all()
        market = [
            {
                "observed_at": o.observed_at,
                "source": o.source,
                "platform": o.platform,
                "self_operated": o.self_operated,
                "price": o.price,
                "url": o.url,
            }
            for o in rows
        ]
        changes = (
            await session.scalars(
                select(MarketBaselineChange)
                .where(
                    MarketBaselineChange.brand_norm == brand,
                    MarketBaselineChange.model_norm == latest.model_norm,
                    MarketBaselineChange.computed_at >= since,
                )
                .order_by(MarketBaselineChange.computed_at)
            )
        ).all()
        baseline = [
            {
                "computed_at": c.computed_at,
                "policy_key": c.policy_key,
                "price": c.price,
                "observations": c.observations,
            }
            for c in changes
        ]
    else:
        baseline = []
    return {"listing_prices": listing_prices, "market": market, "baseline": baseline}


@dataclass(frozen=True, slots=True)
class CategoryPriceStats:
    category_code: str
    live_listings: int
    matched: int
    matched_share: float
    open_violations: int
    median_deviation_pct: Decimal | None
    above_market_share: float


_STATS_SQL = text(
    f"""
    WITH live AS ({LIVE_WITH_BASELINE}
    ), assessed AS (
        SELECT live.*, round((price - baseline) / baseline * 100, 2) AS deviation
        FROM live
        WHERE baseline IS NOT NULL
    )
    SELECT live.category_code,
           count(*) AS live_listings,
           count(a.listing_id) AS matched,
           count(a.listing_id) FILTER (WHERE a.deviation > a.tolerance) AS above,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.deviation) AS median_deviation,
           (SELECT count(*) FROM price_violation v JOIN listing l2 ON l2.id = v.listing_id
            WHERE v.status = 'open' AND l2.category_code = live.category_code) AS open_violations
    FROM live LEFT JOIN assessed a ON a.listing_id = live.listing_id
    GROUP BY live.category_code
    ORDER BY live.category_code
    """  # noqa: S608 -- LIVE_WITH_BASELINE is a constant, no input
)


async def category_stats(session: AsyncSession) -> list[CategoryPriceStats]:
    since = fresh_since(dt.datetime.now(dt.UTC))
    rows = (await session.execute(_STATS_SQL, {"fresh_since": since, "listing": None})).all()
    return [
        CategoryPriceStats(
            category_code=r.category_code,
            live_listings=r.live_listings,
            matched=r.matched,
            matched_share=share(r.matched, r.live_listings),
            open_violations=r.open_violations,
            median_deviation_pct=Decimal(str(round(r.median_deviation, 2)))
            if r.median_deviation is not None
            else None,
            above_market_share=share(r.above, r.matched),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class UnmatchedListing:
    listing_id: str
    supplier_id: str
    category_code: str
    brand: str
    model: str
    gtin: str | None
    price: Decimal
    reason: str  # no_observations | no_baseline_under_policy


_UNMATCHED_SQL = text(
    f"""
    WITH live AS ({LIVE_WITH_BASELINE})
    SELECT live.listing_id, live.supplier_id, live.category_code, live.brand, live.model,
           live.gtin, live.price,
           CASE WHEN EXISTS (
                    SELECT 1 FROM market_baseline b
                    WHERE (live.gtin IS NOT NULL AND b.gtin = live.gtin)
                       OR (b.brand_norm = coalesce(ba.canonical, r.brand_norm)
                           AND b.model_norm = r.model_norm))
                THEN 'no_baseline_under_policy' ELSE 'no_observations' END AS reason
    FROM live
    JOIN listing_revision r ON r.id = live.revision_id
    LEFT JOIN brand_alias ba ON ba.alias = r.brand_norm
    WHERE live.baseline IS NULL
      AND (CAST(:category AS text) IS NULL OR live.category_code = CAST(:category AS text))
      AND (CAST(:supplier AS uuid) IS NULL OR live.supplier_id = CAST(:supplier AS uuid))
    ORDER BY live.category_code, live.listing_id
    LIMIT :limit OFFSET :offset
    """  # noqa: S608 -- LIVE_WITH_BASELINE is a constant, no input
)


async def unmatched(
    session: AsyncSession,
    *,
    category: str | None = None,
    supplier_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[UnmatchedListing]:
    """Live listings the monitor cannot compare: reported, never guessed.

    ``no_observations``: no market observation names the product at all;
    ``no_baseline_under_policy``: there are observations, but the category's
    policy finds none fresh or enough of them.
    """
    since = fresh_since(dt.datetime.now(dt.UTC))
    rows = (
        await session.execute(
            _UNMATCHED_SQL,
            {
                "fresh_since": since,
                "listing": None,
                "category": category,
                "supplier": supplier_id,
                "limit": limit,
                "offset": offset,
            },
        )
    ).all()
    return [
        UnmatchedListing(
            listing_id=str(r.listing_id),
            supplier_id=str(r.supplier_id),
            category_code=r.category_code,
            brand=r.brand,
            model=r.model,
            gtin=r.gtin,
            price=r.price,
            reason=r.reason,
        )
        for r in rows
    ]
