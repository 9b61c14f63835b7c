"""The price scan: every live listing against its baseline, set-based.

A full scan assesses every live listing into a temporary table (a read that
PostgreSQL may run in parallel), then opens and resolves violations from it
in one statement; a one-listing check does both in a single statement.

The comparison in SQL is the assessment's (``pricing_monitor.assess``): the
deviation from the baseline in percent, rounded to 2 places, above the
category's tolerance is a violation. Tests check the two agree.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pricing_monitor.policy import DEFAULT_POLICY


def fresh_since(now: dt.datetime) -> dt.datetime:
    """Stored baselines computed before this are stale (the default freshness window)."""
    return now - dt.timedelta(days=DEFAULT_POLICY.freshness_days)


# A fixed key for pg_advisory_xact_lock: two scans never run at once.
SCAN_LOCK_KEY = int.from_bytes(b"mallscan", "big") - 2**63

# How a live listing finds its baseline, the rule of ``pricing_monitor.identity``:
# the GTIN decides when the listing and a baseline both have one; otherwise the
# canonical brand (aliases applied) and the normalised model must both agree.
# Every price query (scan, one-listing check, statistics, unmatched report)
# selects from this, so they cannot disagree.
LIVE_WITH_BASELINE = """
    SELECT l.id AS listing_id, l.supplier_id, l.category_code, r.id AS revision_id, r.price,
           r.brand, r.model, r.gtin, c.price_tolerance_pct AS tolerance,
           c.price_policy_key AS policy_key,
           coalesce(bg.price, bm.price) AS baseline,
           coalesce(bg.source, bm.source) AS baseline_source
    FROM listing l
    JOIN listing_revision r ON r.id = l.live_revision_id
    JOIN category c ON c.code = l.category_code
    LEFT JOIN brand_alias ba ON ba.alias = r.brand_norm
    LEFT JOIN (
        SELECT DISTINCT ON (gtin, policy_key) gtin, policy_key, price, source
        FROM market_baseline
        WHERE gtin IS NOT NULL AND computed_at >= CAST(:fresh_since AS timestamptz) AND price > 0
        ORDER BY gtin, policy_key, computed_at DESC
    ) bg ON bg.gtin = r.gtin AND bg.policy_key = c.price_policy_key
    LEFT JOIN market_baseline bm ON bg.gtin IS NULL
         AND bm.brand_norm = coalesce(ba.canonical, r.brand_norm) AND bm.model_norm = r.model_norm
         AND bm.policy_key = c.price_policy_key
         AND bm.computed_at >= CAST(:fresh_since AS timestamptz) AND bm.price > 0
         AND (r.gtin IS NULL OR bm.gtin IS NULL OR bm.gtin = r.gtin)
    WHERE l.delisted_at IS NULL
      AND (CAST(:listing AS uuid) IS NULL OR l.id = CAST(:listing AS uuid))
"""

# Step 1: assess every live listing in scope into a temporary table. A plain
# CREATE TABLE ... AS SELECT may use parallel workers; a statement that also
# writes (a data-modifying CTE) may not.
_ASSESS_SQL = text(
    f"""
    CREATE TEMP TABLE scan_assessed ON COMMIT DROP AS
    SELECT listing_id, supplier_id, revision_id, price, baseline, baseline_source, tolerance,
           round((price - baseline) / baseline * 100, 2) AS deviation
    FROM ({LIVE_WITH_BASELINE}) live
    WHERE baseline IS NOT NULL
    """  # noqa: S608 -- LIVE_WITH_BASELINE is a constant, no input
)
_COUNT_LIVE_SQL = text(
    "SELECT count(*) FROM listing l WHERE l.live_revision_id IS NOT NULL AND l.delisted_at IS NULL"
    " AND (CAST(:listing AS uuid) IS NULL OR l.id = CAST(:listing AS uuid))"
)
# Step 2: open violations for the listings above their baseline, resolve the rest.
_SCAN_SQL = text(
    """
    WITH opened AS (
        INSERT INTO price_violation (
            id, listing_id, supplier_id, revision_id, status, listing_price, baseline_price,
            deviation_pct, tolerance_pct, baseline_source, opened_at, created_at, updated_at)
        SELECT gen_random_uuid(), listing_id, supplier_id, revision_id, 'open', price, baseline,
               deviation, tolerance, coalesce(baseline_source, ''), :now, :now, :now
        FROM scan_assessed
        WHERE deviation > tolerance
        ON CONFLICT (listing_id) WHERE status = 'open' DO NOTHING
        RETURNING id, listing_id, supplier_id
    ), resolved AS (
        -- Driven by the open violations (few), not by every live listing.
        UPDATE price_violation v
        SET status = 'resolved', resolved_at = :now, updated_at = :now,
            resolution = CASE WHEN a.listing_id IS NULL THEN 'no_longer_compared'
                              WHEN a.price < v.listing_price THEN 'price_lowered'
                              ELSE 'baseline_moved' END
        FROM price_violation o
        LEFT JOIN scan_assessed a ON a.listing_id = o.listing_id
        WHERE v.id = o.id AND o.status = 'open'
          AND (CAST(:listing AS uuid) IS NULL OR o.listing_id = CAST(:listing AS uuid))
          AND (a.listing_id IS NULL OR a.deviation <= a.tolerance)
        RETURNING v.id
    )
    SELECT (SELECT count(*) FROM scan_assessed) AS matched,
           (SELECT coalesce(array_agg(ARRAY[CAST(id AS text), CAST(listing_id AS text),
                                            CAST(supplier_id AS text)]), '{}')
            FROM opened) AS opened,
           (SELECT coalesce(array_agg(CAST(id AS text)), '{}') FROM resolved) AS resolved
    """
)


# A one-listing check: one statement, no temporary table (it runs inside listing writes).
_SCAN_ONE_SQL = text(
    f"""
    WITH live AS ({LIVE_WITH_BASELINE}
    ), assessed AS (
        SELECT live.*, round((price - baseline) / baseline * 100, 2) AS deviation
        FROM live
        WHERE baseline IS NOT NULL
    ), opened AS (
        INSERT INTO price_violation (
            id, listing_id, supplier_id, revision_id, status, listing_price, baseline_price,
            deviation_pct, tolerance_pct, baseline_source, opened_at, created_at, updated_at)
        SELECT gen_random_uuid(), listing_id, supplier_id, revision_id, 'open', price, baseline,
               deviation, tolerance, coalesce(baseline_source, ''), :now, :now, :now
        FROM assessed
        WHERE deviation > tolerance
        ON CONFLICT (listing_id) WHERE status = 'open' DO NOTHING
        RETURNING id, listing_id, supplier_id, deviation_pct
    ), resolved AS (
        -- Driven by the open violations (few), not by every live listing.
        UPDATE price_violation v
        SET status = 'resolved', resolved_at = :now, updated_at = :now,
            resolution = CASE WHEN a.listing_id IS NULL THEN 'no_longer_compared'
                              WHEN a.price < v.listing_price THEN 'price_lowered'
                              ELSE 'baseline_moved' END
        FROM price_violation o
        LEFT JOIN assessed a ON a.listing_id = o.listing_id
        WHERE v.id = o.id AND o.status = 'open'
          AND (CAST(:listing AS uuid) IS NULL OR o.listing_id = CAST(:listing AS uuid))
          AND (a.listing_id IS NULL OR a.deviation <= a.tolerance)
        RETURNING v.id
    )
    SELECT (SELECT count(*) FROM live) AS scanned,
           (SELECT count(*) FROM assessed) AS matched,
           (SELECT coalesce(array_agg(ARRAY[CAST(id AS text), CAST(listing_id AS text),
                                            CAST(supplier_id AS text)]), '{{}}')
            FROM opened) AS opened,
           (SELECT coalesce(array_agg(CAST(id AS text)), '{{}}') FROM resolved) AS resolved
    """  # noqa: S608 -- LIVE_WITH_BASELINE is a constant, no input
)


@dataclass
class ScanResult:
    scanned: int = 0
    matched: int = 0
    opened: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = field(
        default_factory=list
    )  # violation, listing, supplier
    resolved: list[uuid.UUID] = field(default_factory=list)


async def scan(
    session: AsyncSession, now: dt.datetime, listing_id: uuid.UUID | None = None
) -> ScanResult:
    """Compare live listings (all, or one) with their baselines; open and resolve violations.

    Full scans take a lock, so two never run at once. A one-listing check does
    not wait for it (it runs inside a listing write, which must not wait for a
    full scan); the unique index on open violations and row locks keep the two
    consistent.
    """
    if listing_id is None:
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCAN_LOCK_KEY})
    params = {
        "now": now,
        "fresh_since": fresh_since(now),
        "listing": str(listing_id) if listing_id else None,
    }
    if listing_id is not None:
        row = (await session.execute(_SCAN_ONE_SQL, params)).one()
        return ScanResult(
            scanned=int(row.scanned),
            matched=int(row.matched),
            opened=[
                (uuid.UUID(v), uuid.UUID(lst), uuid.UUID(sup)) for v, lst, sup in (row.opened or [])
            ],
            resolved=[uuid.UUID(v) for v in (row.resolved or [])],
        )
    await session.execute(text("DROP TABLE IF EXISTS scan_assessed"))
    await session.execute(_ASSESS_SQL, params)
    scanned = (await session.execute(_COUNT_LIVE_SQL, params)).scalar_one()
    row = (await session.execute(_SCAN_SQL, params)).one()
    await session.execute(text("DROP TABLE scan_assessed"))
    return ScanResult(
        scanned=int(scanned),
        matched=int(row.matched),
        opened=[
            (uuid.UUID(v), uuid.UUID(lst), uuid.UUID(sup)) for v, lst, sup in (row.opened or [])
        ],
        resolved=[uuid.UUID(v) for v in (row.resolved or [])],
    )
