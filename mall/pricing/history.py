"""Price history of a listing, and the regulator's statistics per category."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Listing, ListingRevision
from mall.suppliers.stats import share
from pricing_monitor import DEFAULT_POLICY
from pricing_monitor.models import MarketBaselineChange, PriceObservation
from pricing_monitor.observations import canonical_brands

HISTORY_DAYS = 365


async def price_history(session: AsyncSession, listing: Listing) -> dict[str, Any]:
    """Every revision's price, and the market observations of the same product."""
    revisions = (
        await session.scalars(
            select(ListingRevision)
            .where(ListingRevision.listing_id == listing.id)
            .order_by(ListingRevision.number)
        )
    ).all()
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
    """
    WITH live AS (
        SELECT l.id, l.category_code, r.price, coalesce(ba.canonical, r.brand_norm) AS brand,
               r.model_norm, c.price_tolerance_pct AS tolerance, c.price_policy_key AS policy_key
        FROM listing l
        JOIN listing_revision r ON r.id = l.live_revision_id
        JOIN category c ON c.code = l.category_code
        LEFT JOIN brand_alias ba ON ba.alias = r.brand_norm
        WHERE l.delisted_at IS NULL
    ), assessed AS (
        SELECT live.*, round((live.price - b.price) / b.price * 100, 2) AS deviation
        FROM live
        JOIN market_baseline b ON b.brand_norm = live.brand AND b.model_norm = live.model_norm
         AND b.policy_key = live.policy_key
        WHERE b.computed_at >= :fresh_since AND b.price > 0
    )
    SELECT live.category_code,
           count(*) AS live_listings,
           count(a.id) AS matched,
           count(a.id) FILTER (WHERE a.deviation > a.tolerance) AS above,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.deviation) AS median_deviation,
           (SELECT count(*) FROM price_violation v JOIN listing l2 ON l2.id = v.listing_id
            WHERE v.status = 'open' AND l2.category_code = live.category_code) AS open_violations
    FROM live LEFT JOIN assessed a ON a.id = live.id
    GROUP BY live.category_code
    ORDER BY live.category_code
    """
)


async def category_stats(session: AsyncSession) -> list[CategoryPriceStats]:
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=DEFAULT_POLICY.freshness_days)
    rows = (await session.execute(_STATS_SQL, {"fresh_since": since})).all()
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
