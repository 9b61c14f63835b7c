"""The full price scan over 1,000,000 live listings (half of them with a
baseline, a tenth of those above it) vs a raw ``UPDATE ... FROM`` join over
tables of the same shape and data, in the same run."""

from __future__ import annotations

import time

from sqlalchemy import text

from bench.common import Result, p95
from catalog.categories import seed_demo_categories
from mall import audit
from mall.db import create_engine, create_session_maker
from mall.pricing import service as monitor
from mall.settings import get_settings

LISTINGS = 1_000_000
SUPPLIERS = 200
SAMPLES = 60


async def _populate(engine) -> None:  # type: ignore[no-untyped-def]
    async with engine.begin() as c:
        await c.execute(
            text(
                "INSERT INTO organisation"
                " (id, kind, name, status, all_categories, created_at, updated_at)"
                " SELECT gen_random_uuid(), 'supplier', 'scan supplier ' || g, 'active', true,"
                " now(), now()"
                f" FROM generate_series(1, {SUPPLIERS}) g"
            )
        )
        await c.execute(
            text(
                "CREATE TEMP TABLE orgs AS SELECT row_number() OVER () AS n, id FROM organisation"
                " WHERE name LIKE 'scan supplier %'"
            )
        )
        await c.execute(
            text(f"""
            INSERT INTO listing (id, supplier_id, category_code, status, live_revision_id, current_revision_id,
                                 created_at, updated_at)
            SELECT md5('l' || g)::uuid, o.id, 'A090101', 'approved', md5('r' || g)::uuid, md5('r' || g)::uuid,
                   now(), now()
            FROM generate_series(1, {LISTINGS}) g JOIN orgs o ON o.n = 1 + g % {SUPPLIERS}""")
        )
        await c.execute(
            text(f"""
            INSERT INTO listing_revision (id, listing_id, supplier_id, number, status, category_code, brand,
                brand_norm, model, model_norm, title, attributes, price, unit, stock, delivery_regions,
                warranty_months, after_sales, created_at, updated_at)
            SELECT md5('r' || g)::uuid, md5('l' || g)::uuid, o.id, 1, 'approved', 'A090101', 'deli', 'deli',
                   'M' || g, 'm' || g, '得力 复印纸 M' || g, '{{}}', 20 + (g % 10), '包', 10, '{{}}', 0, '',
                   now(), now()
            FROM generate_series(1, {LISTINGS}) g JOIN orgs o ON o.n = 1 + g % {SUPPLIERS}""")
        )
        # Baselines for every other product; one in ten listed above it by more than 3%.
        await c.execute(
            text(f"""
            INSERT INTO market_baseline (id, brand_norm, model_norm, price, observations, source, computed_at,
                                         created_at, updated_at)
            SELECT gen_random_uuid(), '得力', 'm' || g,
                   CASE WHEN g % 20 = 0 THEN 15 ELSE 20 + (g % 10) END, 2, 'JD', now(), now(), now()
            FROM generate_series(2, {LISTINGS}, 2) g""")
        )
        await c.execute(text("CREATE TABLE bench_rev (LIKE listing_revision INCLUDING ALL)"))
        await c.execute(text("INSERT INTO bench_rev SELECT * FROM listing_revision"))
        await c.execute(text("CREATE TABLE bench_base (LIKE market_baseline INCLUDING ALL)"))
        await c.execute(text("INSERT INTO bench_base SELECT * FROM market_baseline"))
    async with engine.connect() as c:
        await c.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("listing", "listing_revision", "market_baseline", "bench_rev", "bench_base"):
            await c.execute(text(f"VACUUM ANALYZE {table}"))


async def run(database_url: str) -> list[Result]:
    engine = create_engine(database_url)
    session_maker = create_session_maker(engine)
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    await _populate(engine)
    started = time.perf_counter()
    async with engine.begin() as c:
        await c.execute(
            text(
                "UPDATE bench_rev r SET updated_at = now() FROM bench_base b"
                " WHERE b.brand_norm = '得力' AND b.model_norm = r.model_norm AND r.price > b.price * 1.03"
            )
        )
    reference = time.perf_counter() - started
    started = time.perf_counter()
    async with session_maker() as session, session.begin():
        record = await monitor.request_scan(session, "manual", audit.SYSTEM)
    async with session_maker() as session, session.begin():
        done = await monitor.run(session, get_settings(), scan_id=record.id)
    elapsed = time.perf_counter() - started
    assert done is not None and done.scanned == LISTINGS, done.scanned if done else None
    # One listing after a price edit: the edit alone vs the edit plus its re-check.
    edit = text("UPDATE listing_revision SET price = price - 1 WHERE id = md5('r' || :g)::uuid")
    plain, incremental = [], []
    for g in range(2, 2 + 2 * SAMPLES, 2):
        started = time.perf_counter()
        async with session_maker() as session, session.begin():
            await session.execute(edit, {"g": str(g)})
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        async with session_maker() as session, session.begin():
            await session.execute(edit, {"g": str(g + 1)})
            listing_id = (
                await session.execute(text("SELECT md5('l' || :g)::uuid"), {"g": str(g + 1)})
            ).scalar_one()
            await monitor.run(session, get_settings(), listing_id=listing_id)
        incremental.append(time.perf_counter() - started)
    async with engine.begin() as c:
        await c.execute(text("DROP TABLE bench_rev"))
        await c.execute(text("DROP TABLE bench_base"))
    await engine.dispose()
    return [
        Result.of(
            "price_recheck_one_listing_p95",
            p95(incremental) * 1000,
            "ms",
            "the price edit alone, p95",
            p95(plain) * 1000,
        ).inverted(),
        Result.of(
            f"price_scan_{LISTINGS // 1000}k_listings",
            elapsed * 1000,
            "ms",
            "raw UPDATE ... FROM join, same shape",
            reference * 1000,
        ).inverted(),
    ]
