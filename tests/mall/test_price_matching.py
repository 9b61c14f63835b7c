"""Matching listings to market prices: the GTIN decides, unmatched listings are reported,
and a category's new price policy gets its baselines at once."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from support import put_on_sale

from catalog.categories import seed_demo_categories
from catalog.models import Category
from mall.auth.models import OrgKind
from mall.jobs.models import OutboxJob
from mall.pricing import service as monitor
from pricing_monitor.models import MarketBaseline, PriceScan, PriceViolation

IMPORT = "/api/v1/pricing/observations/import"


def seen(price: str, *, model: str | None = None, gtin: str | None = None, platform="JD") -> dict:
    row = {
        "source": "ecommerce",
        "platform": platform,
        "self_operated": True,
        "price": price,
        "observed_at": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat(),
        "url": f"https://example.com/{platform}/{model or gtin}",
    }
    if model:
        row |= {"brand": "deli", "model": model}
    if gtin:
        row["gtin"] = gtin
    return row


def paper(model: str, price: str, gtin: str | None = None, category: str = "A090101") -> dict:
    body = {
        "category_code": category,
        "brand": "得力",
        "model": model,
        "title": f"得力 {model} A4 复印纸 70g 500张/包",
        "price": price,
        "unit": "包",
        "attributes": {"幅面": "A4", "克重": 70, "每包张数": 500},
    }
    return body | ({"gtin": gtin} if gtin else {})


async def _on_sale(client, session_maker, headers, body: dict) -> str:
    """Put a listing on sale as an operator's approval would (paper without images is rejected)."""
    created = await client.post("/api/v1/listings/", json=body, headers=headers)
    assert created.status_code == 201, created.text
    listing = created.json()
    await put_on_sale(session_maker, listing["id"])
    return listing["id"]


def _gtin() -> str:
    return f"69{uuid.uuid4().int % 10**11:011d}"


async def test_the_gtin_decides_when_both_sides_have_one(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    operator = signed_in[OrgKind.OPERATOR]
    model, own_gtin, other_gtin = f"G{uuid.uuid4().hex[:6]}", _gtin(), _gtin()
    imported = await client.post(
        IMPORT,
        json={
            "observations": [
                # Known by its GTIN alone (no brand, no model).
                seen("30.00", gtin=own_gtin),
                # The same brand and model, but a different GTIN.
                seen("20.00", model=model, gtin=other_gtin, platform="Tmall"),
            ]
        },
        headers=operator,
    )
    assert imported.json()["accepted"] == 2, imported.text
    headers = await login(await make_account(OrgKind.SUPPLIER))
    by_gtin = await _on_sale(client, session_maker, headers, paper(model, "31.00", own_gtin))
    by_model = await _on_sale(client, session_maker, headers, paper(model, "21.00"))
    conflicting = await _on_sale(client, session_maker, headers, paper(model, "21.00", _gtin()))

    for listing_id in (by_gtin, by_model, conflicting):
        async with session_maker() as session, session.begin():
            await monitor.run(session, settings, listing_id=uuid.UUID(listing_id))
    async with session_maker() as session:
        open_violations = {
            str(v.listing_id): v
            for v in await session.scalars(
                select(PriceViolation).where(
                    PriceViolation.listing_id.in_(
                        [uuid.UUID(i) for i in (by_gtin, by_model, conflicting)]
                    ),
                    PriceViolation.status == "open",
                )
            )
        }
    # 31 against the GTIN's 30, not against the model's 20.
    assert str(open_violations[by_gtin].baseline_price) == "30.00"
    # No GTIN on the listing: brand and model decide.
    assert str(open_violations[by_model].baseline_price) == "20.00"
    # A GTIN that names another product is not guessed into a match.
    assert conflicting not in open_violations

    unmatched = (
        await client.get("/api/v1/pricing/unmatched", params={"page_size": 500}, headers=operator)
    ).json()["items"]
    reasons = {row["listing_id"]: row["reason"] for row in unmatched}
    assert reasons.get(conflicting) == "no_baseline_under_policy"
    assert by_gtin not in reasons and by_model not in reasons


async def test_unmatched_listings_are_reported_to_their_supplier_and_operators(
    client, signed_in, make_account, login, session_maker
) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    mine = await login(await make_account(OrgKind.SUPPLIER))
    other = await login(await make_account(OrgKind.SUPPLIER))
    unknown = await _on_sale(client, session_maker, mine, paper(f"U{uuid.uuid4().hex[:6]}", "9.90"))
    theirs = await _on_sale(client, session_maker, other, paper(f"U{uuid.uuid4().hex[:6]}", "9.90"))

    own = (await client.get("/api/v1/pricing/unmatched", headers=mine)).json()["items"]
    assert [row["listing_id"] for row in own] == [unknown]
    assert own[0]["reason"] == "no_observations" and own[0]["category_code"] == "A090101"
    everyone = (
        await client.get(
            "/api/v1/pricing/unmatched",
            params={"category": "A090101", "page_size": 500},
            headers=signed_in[OrgKind.REGULATOR],
        )
    ).json()["items"]
    assert {unknown, theirs} <= {row["listing_id"] for row in everyone}
    assert (
        await client.get("/api/v1/pricing/unmatched", headers=signed_in[OrgKind.PURCHASER])
    ).status_code == 403
    bad = await client.get("/api/v1/pricing/unmatched", params={"page_size": 0}, headers=mine)
    assert bad.status_code == 400 or bad.status_code == 422


async def test_a_new_price_policy_gets_its_baselines_without_waiting_for_an_import(
    client, signed_in, session_maker
) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    code = f"A0901{uuid.uuid4().int % 10**6:06d}"
    category = {
        "name_zh": "测试复印纸（中位价）",
        "name_en": "Test paper (median price)",
        "parent_code": "A09",
        "attributes": [
            {"name": "幅面", "type": "enum", "required": True, "allowed_values": ["A4", "A3"]}
        ],
        "usual_units": ["包"],
    }
    assert (
        await client.put(f"/api/v1/categories/{code}", json=category, headers=operator)
    ).status_code == 200
    model = f"P{uuid.uuid4().hex[:6]}"
    await client.post(
        IMPORT,
        json={
            "observations": [
                seen("22.00", model=model),
                seen("26.00", model=model, platform="Suning"),
            ]
        },
        headers=operator,
    )
    # A policy no other category uses: its baselines do not exist yet.
    policy = {"aggregate": "median", "sources": ["ecommerce"], "freshness_days": 29}
    changed = await client.put(
        f"/api/v1/categories/{code}", json=category | {"price_policy": policy}, headers=operator
    )
    assert changed.status_code == 200, changed.text
    async with session_maker() as session:
        key = (
            await session.execute(
                select(OutboxJob.kwargs).where(
                    OutboxJob.job_name == monitor.RECOMPUTE_JOB,
                    OutboxJob.kwargs["category_code"].astext == code,
                )
            )
        ).scalar_one()
        assert key == {"category_code": code}
    # Unchanged policy, no new job.
    again = await client.put(
        f"/api/v1/categories/{code}", json=category | {"price_policy": policy}, headers=operator
    )
    assert again.status_code == 200
    async with session_maker() as session:
        jobs = (
            await session.scalars(
                select(OutboxJob).where(
                    OutboxJob.job_name == monitor.RECOMPUTE_JOB,
                    OutboxJob.kwargs["category_code"].astext == code,
                )
            )
        ).all()
        assert len(jobs) == 1

    async with session_maker() as session, session.begin():
        written = await monitor.recompute_policy(session, code)
    assert written >= 1
    async with session_maker() as session:
        policy_key = await session.scalar(
            select(Category.price_policy_key).where(Category.code == code)
        )
        baseline = (
            await session.scalars(
                select(MarketBaseline).where(
                    MarketBaseline.model_norm == model.lower(),
                    MarketBaseline.policy_key == policy_key,
                )
            )
        ).one()
        assert str(baseline.price) == "24.00" and baseline.observations == 2
        scan = (
            await session.scalars(
                select(PriceScan)
                .where(PriceScan.trigger == "policy_change")
                .order_by(PriceScan.created_at.desc())
            )
        ).first()
        assert scan is not None and scan.status == "queued"
