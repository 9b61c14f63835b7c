"""The price scan and violations: opened with a clock, seen by their supplier, resolved by a fix."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select
from support import put_on_sale

from catalog.categories import seed_demo_categories
from catalog.models import Listing, ListingRevision
from mall.audit.models import AuditEvent
from mall.auth.models import OrgKind
from mall.calendar.core import SHANGHAI
from mall.listings import service as flow
from mall.penalties.models import Penalty
from mall.pricing import service as monitor
from mall.sla.models import SlaClock
from mall.suppliers.models import OperatorCase
from pricing_monitor import Baseline, BaselinePolicy, assess
from pricing_monitor.models import PriceScan, PriceViolation

IMPORT = "/api/v1/pricing/observations/import"


def paper(model: str, price: str) -> dict:
    return {
        "category_code": "A090101",
        "brand": "得力",
        "model": model,
        "title": f"得力 {model} A4 复印纸 70g 500张/包",
        "price": price,
        "unit": "包",
        "attributes": {"幅面": "A4", "克重": 70, "每包张数": 500},
        "submit": True,
    }


def seen(model: str, price: str) -> dict:
    return {
        "source": "ecommerce",
        "platform": "JD",
        "self_operated": True,
        "brand": "deli",
        "model": model,
        "price": price,
        "observed_at": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat(),
    }


async def _live_listing(client, session_maker, settings, headers, model: str, price: str) -> dict:
    listing = (
        await client.post("/api/v1/listings/", json=paper(model, price), headers=headers)
    ).json()
    async with session_maker() as session, session.begin():
        # Paper without images would be rejected; approve the revision as an operator would.
        await flow.review_revision(session, settings, uuid.UUID(listing["revision"]["id"]))
    return listing


async def _scan(session_maker, settings, scan_id=None, listing_id=None):
    async with session_maker() as session, session.begin():
        return await monitor.run(session, settings, scan_id=scan_id, listing_id=listing_id)


async def test_violation_lifecycle(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    supplier = await make_account(OrgKind.SUPPLIER)
    headers = await login(supplier)
    model = f"V{uuid.uuid4().hex[:6]}"
    listing = await _live_listing(client, session_maker, settings, headers, model, "26.00")
    await put_on_sale(session_maker, listing["id"])

    operator = signed_in[OrgKind.OPERATOR]
    result = (
        await client.post(IMPORT, json={"observations": [seen(model, "24.00")]}, headers=operator)
    ).json()
    assert result["new"] == 1
    async with session_maker() as session:
        queued = (
            await session.scalars(
                select(PriceScan)
                .where(PriceScan.trigger == "import")
                .order_by(PriceScan.created_at.desc())
            )
        ).first()
    record = await _scan(session_maker, settings, scan_id=queued.id)
    assert record.status == "done" and record.violations_opened >= 1 and record.scanned >= 1

    mine = (
        await client.get("/api/v1/pricing/violations", params={"status": "open"}, headers=headers)
    ).json()["items"]
    [violation] = [v for v in mine if v["listing_id"] == listing["id"]]
    assert violation["baseline_price"] == "24.00" and violation["deviation_pct"] == "8.33"
    assert violation["due_at"] is not None
    other = await login(await make_account(OrgKind.SUPPLIER))
    assert all(
        v["listing_id"] != listing["id"]
        for v in (await client.get("/api/v1/pricing/violations", headers=other)).json()["items"]
    )
    assert listing["id"] in [
        v["listing_id"]
        for v in (await client.get("/api/v1/pricing/violations", headers=operator)).json()["items"]
    ]
    assert (
        await client.get("/api/v1/pricing/violations", headers=signed_in[OrgKind.PURCHASER])
    ).status_code == 403
    notes = (await client.get("/api/v1/notifications/", headers=headers)).json()["items"]
    [note] = [n for n in notes if n["kind"] == "pricing.violation_opened"]
    # The notice names the listing and the last day included (the day before due_at).
    last = (dt.datetime.fromisoformat(violation["due_at"]).astimezone(SHANGHAI)).date()
    last -= dt.timedelta(days=1)
    assert listing["revision"]["title"][:30] in note["title_zh"]
    assert f"请于 {last.isoformat()}（含）前调整" in note["title_zh"]
    assert f"by {last.isoformat()} (inclusive)" in note["title_en"]

    # A second scan opens nothing new for the same listing.
    again = await _scan(session_maker, settings, listing_id=uuid.UUID(listing["id"]))
    assert again is None
    async with session_maker() as session:
        assert (
            len(
                (
                    await session.scalars(
                        select(PriceViolation).where(
                            PriceViolation.listing_id == uuid.UUID(listing["id"])
                        )
                    )
                ).all()
            )
            == 1
        )

    # The supplier lowers the price; the approved revision resolves the violation.
    edited = await client.patch(
        f"/api/v1/listings/{listing['id']}", json={"price": "23.90"}, headers=headers
    )
    revision_id = (
        await client.post(f"/api/v1/listings/{listing['id']}/submit", headers=headers)
    ).json()["revision"]["id"]
    assert edited.status_code == 200
    async with session_maker() as session, session.begin():
        outcome = await flow.review_revision(session, settings, uuid.UUID(revision_id))
    assert outcome == "rejected"  # no image: still fixed by an operator below
    async with session_maker() as session, session.begin():
        row = await session.get(Listing, uuid.UUID(listing["id"]))
        row.live_revision_id = uuid.UUID(revision_id)
        (await session.get(ListingRevision, uuid.UUID(revision_id))).status = "approved"
    await _scan(session_maker, settings, listing_id=uuid.UUID(listing["id"]))
    async with session_maker() as session:
        fixed = (
            await session.scalars(
                select(PriceViolation).where(PriceViolation.listing_id == uuid.UUID(listing["id"]))
            )
        ).one()
        clock = (
            await session.scalars(select(SlaClock).where(SlaClock.subject_id == str(fixed.id)))
        ).one()
    assert fixed.status == "resolved" and fixed.resolution == "price_lowered"
    assert clock.kind == "price_fix" and clock.met_at is not None


def test_the_scan_uses_the_assessment_rule() -> None:
    """The SQL's test (deviation rounded to 2 places above tolerance) is assess()'s."""
    for price, baseline, tolerance in [
        ("24.00", "24.00", "0"),
        ("24.01", "24.00", "0"),
        ("25.20", "24.00", "5"),
        ("25.21", "24.00", "5"),
        ("23.00", "24.00", "0"),
    ]:
        result = assess(
            Decimal(price),
            Baseline(Decimal(baseline), "ok"),
            BaselinePolicy(tolerance_pct=Decimal(tolerance)),
        )
        deviation = ((Decimal(price) - Decimal(baseline)) / Decimal(baseline) * 100).quantize(
            Decimal("0.01")
        )
        assert (result.band == "above_market") == (deviation > Decimal(tolerance))


async def test_unremedied_violation_is_delisted_at_the_deadline(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    headers = await login(await make_account(OrgKind.SUPPLIER))
    model = f"U{uuid.uuid4().hex[:6]}"
    listing = await _live_listing(client, session_maker, settings, headers, model, "30.00")
    await put_on_sale(session_maker, listing["id"])
    await client.post(
        IMPORT, json={"observations": [seen(model, "24.00")]}, headers=signed_in[OrgKind.OPERATOR]
    )
    await _scan(session_maker, settings, listing_id=uuid.UUID(listing["id"]))
    async with session_maker() as session:
        violation = (
            await session.scalars(
                select(PriceViolation).where(PriceViolation.listing_id == uuid.UUID(listing["id"]))
            )
        ).one()
        clock = (
            await session.scalars(select(SlaClock).where(SlaClock.subject_id == str(violation.id)))
        ).one()
    # Before the deadline nothing happens; just after it, the listing goes.
    async with session_maker() as session, session.begin():
        assert (
            await monitor.enforce_deadlines(session, now=clock.due_at - dt.timedelta(seconds=1))
            == 0
        )
    async with session_maker() as session, session.begin():
        assert (
            await monitor.enforce_deadlines(session, now=clock.due_at + dt.timedelta(seconds=1))
            >= 1
        )
    shown = (await client.get(f"/api/v1/listings/{listing['id']}", headers=headers)).json()
    assert shown["status"] == "delisted" and shown["on_sale"] is False
    async with session_maker() as session:
        closed = await session.get(PriceViolation, violation.id)
        cases = (
            await session.scalars(
                select(OperatorCase).where(
                    OperatorCase.case_type == "price_unremedied",
                    OperatorCase.details["violation_id"].astext == str(violation.id),
                )
            )
        ).all()
        events = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.subject_id == listing["id"])
            )
        ).all()
    assert closed.status == "delisted" and closed.resolution == "unremedied"
    assert len(cases) == 1 and cases[0].details["code"] == "PRICE.UNREMEDIED"
    assert "pricing.violation_unremedied" in events
    # The credit record: an automatic PRICE.UNREMEDIED penalty linked to the matter.
    async with session_maker() as session:
        [penalty] = (
            await session.scalars(select(Penalty).where(Penalty.operator_case_id == cases[0].id))
        ).all()
    assert penalty.code == "PRICE.UNREMEDIED" and penalty.source == "automatic"
    assert penalty.supplier_id == violation.supplier_id and penalty.status == "in_force"
    delisted = (
        await client.get(
            "/api/v1/pricing/violations", params={"status": "delisted"}, headers=headers
        )
    ).json()["items"]
    assert [v["id"] for v in delisted] == [str(violation.id)]


async def test_objection_history_and_statistics(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    headers = await login(await make_account(OrgKind.SUPPLIER))
    model = f"O{uuid.uuid4().hex[:6]}"
    listing = await _live_listing(client, session_maker, settings, headers, model, "28.00")
    await put_on_sale(session_maker, listing["id"])
    operator = signed_in[OrgKind.OPERATOR]
    await client.post(IMPORT, json={"observations": [seen(model, "24.00")]}, headers=operator)
    await _scan(session_maker, settings, listing_id=uuid.UUID(listing["id"]))
    [violation] = [
        v
        for v in (
            await client.get(
                "/api/v1/pricing/violations", params={"status": "open"}, headers=headers
            )
        ).json()["items"]
        if v["listing_id"] == listing["id"]
    ]

    other = await login(await make_account(OrgKind.SUPPLIER))
    assert (
        await client.post(
            f"/api/v1/pricing/violations/{violation['id']}/objection",
            json={"reason": "x"},
            headers=other,
        )
    ).status_code == 404
    filed = await client.post(
        f"/api/v1/pricing/violations/{violation['id']}/objection",
        json={"reason": "京东价格为促销价，不具代表性"},
        headers=headers,
    )
    assert filed.status_code == 201
    assert (
        await client.post(
            f"/api/v1/pricing/violations/{violation['id']}/objection",
            json={"reason": "again"},
            headers=headers,
        )
    ).status_code == 409
    async with session_maker() as session:
        clock = (
            await session.scalars(select(SlaClock).where(SlaClock.subject_id == violation["id"]))
        ).one()
    assert clock.paused_since is not None  # the deadline stops while operators decide
    async with session_maker() as session, session.begin():
        await monitor.enforce_deadlines(session, now=clock.due_at + dt.timedelta(days=30))
    async with session_maker() as session:
        # Paused by the objection: not enforced, however late it is.
        assert (await session.get(PriceViolation, uuid.UUID(violation["id"]))).status == "open"
    decided = await client.post(
        f"/api/v1/pricing/violations/{violation['id']}/objection/uphold",
        json={"note": "促销价不计入"},
        headers=operator,
    )
    assert decided.status_code == 200 and decided.json()["resolution"] == "objection_upheld"
    assert (
        await client.post(
            f"/api/v1/pricing/violations/{violation['id']}/objection/maybe",
            json={},
            headers=operator,
        )
    ).status_code in (404, 422)

    history = (
        await client.get(f"/api/v1/listings/{listing['id']}/price-history", headers=headers)
    ).json()
    assert [p["price"] for p in history["listing_prices"]] == ["28.00"]
    assert [m["price"] for m in history["market"]] == ["24.00"]
    assert [b["price"] for b in history["baseline"] if b["policy_key"] == "default"] == ["24.00"]
    assert (
        await client.get(f"/api/v1/listings/{listing['id']}/price-history", headers=other)
    ).status_code == 404

    assert (await client.get("/api/v1/pricing/stats", headers=headers)).status_code == 403
    stats = (await client.get("/api/v1/pricing/stats", headers=signed_in[OrgKind.REGULATOR])).json()
    paper_stats = next(s for s in stats if s["category_code"] == "A090101")
    assert paper_stats["live_listings"] >= 1 and paper_stats["matched"] >= 1
    assert paper_stats["matched_share"] == round(
        100 * paper_stats["matched"] / paper_stats["live_listings"], 2
    )


async def test_scans_racing_with_price_edits_end_consistent(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    """Edits that lower prices while scans run: afterwards every open violation is
    a listing still above its baseline, and no listing has two."""
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    headers = await login(await make_account(OrgKind.SUPPLIER))
    operator = signed_in[OrgKind.OPERATOR]
    listings = []
    for i in range(6):
        model = f"R{uuid.uuid4().hex[:6]}"
        listing = await _live_listing(client, session_maker, settings, headers, model, "30.00")
        await put_on_sale(session_maker, listing["id"])
        await client.post(IMPORT, json={"observations": [seen(model, "24.00")]}, headers=operator)
        listings.append((listing, i % 2 == 0))  # every other one gets fixed

    async def lower(listing: dict) -> None:
        async with session_maker() as session, session.begin():
            revision = await session.get(ListingRevision, uuid.UUID(listing["revision"]["id"]))
            revision.price = Decimal("23.00")
        await _scan(session_maker, settings, listing_id=uuid.UUID(listing["id"]))

    await asyncio.gather(
        _scan(session_maker, settings),
        _scan(session_maker, settings),
        *(lower(listing) for listing, fix in listings if fix),
    )
    await _scan(session_maker, settings)
    async with session_maker() as session:
        for listing, fixed in listings:
            rows = (
                await session.scalars(
                    select(PriceViolation).where(
                        PriceViolation.listing_id == uuid.UUID(listing["id"]),
                        PriceViolation.status == "open",
                    )
                )
            ).all()
            assert len(rows) == (0 if fixed else 1), (listing["id"], fixed, rows)
