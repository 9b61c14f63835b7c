"""Market observations: per-row errors, no duplicates, baselines, and the review using them."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlalchemy import select

from catalog.categories import seed_demo_categories
from mall.auth.models import OrgKind
from mall.listings import service as flow
from pricing_monitor.models import MarketBaseline

IMPORT = "/api/v1/pricing/observations/import"


def observation(
    model: str,
    price: str,
    platform: str,
    *,
    days_ago: int = 1,
    brand: str = "得力",
    self_operated: bool = True,
    **extra,
) -> dict:
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).isoformat()
    return {
        "source": "ecommerce",
        "platform": platform,
        "self_operated": self_operated,
        "brand": brand,
        "model": model,
        "price": price,
        "observed_at": when,
        "url": f"https://example.com/{platform}/{model}",
    } | extra


async def test_import_keeps_valid_rows_and_reports_the_rest(
    client, signed_in, session_maker
) -> None:
    model = f"DL-{uuid.uuid4().hex[:5]}"
    rows = [
        observation(model, "25.90", "JD"),
        observation(model, "24.50", "Tmall", brand="deli"),  # alias of 得力
        observation(model, "19.90", "PDD", self_operated=False),  # not self-operated: not counted
        observation(model, "-1", "JD"),
        observation(model, "26.00", "JD", source="rumour"),
        observation(
            model,
            "26.00",
            "JD",
            observed_at=(dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat(),
        ),
        {
            "source": "ecommerce",
            "platform": "JD",
            "price": "10.00",
            "observed_at": dt.datetime.now(dt.UTC).isoformat(),
        },
    ]
    operator = signed_in[OrgKind.OPERATOR]
    assert (
        await client.post(IMPORT, json={"observations": rows}, headers=signed_in[OrgKind.SUPPLIER])
    ).status_code == 403
    result = (await client.post(IMPORT, json={"observations": rows}, headers=operator)).json()
    assert (result["accepted"], result["new"], result["rejected"]) == (3, 3, 4)
    assert {(e["row"], e["field"], e["code"]) for e in result["errors"]} == {
        (4, "price", "invalid_price"),
        (5, "source", "unknown_source"),
        (6, "observed_at", "in_future"),
        (7, "model", "missing_identity"),
    }
    again = (await client.post(IMPORT, json={"observations": rows}, headers=operator)).json()
    assert again["accepted"] == 3 and again["new"] == 0  # a repeated import adds nothing
    async with session_maker() as session:
        baseline = (
            await session.scalars(
                select(MarketBaseline).where(
                    MarketBaseline.model_norm == model.lower().replace("-", ""),
                    MarketBaseline.policy_key == "default",
                )
            )
        ).one()
    assert (
        baseline.brand_norm == "得力"
        and str(baseline.price) == "24.50"
        and baseline.observations == 2
    )


async def test_csv_import(client, signed_in) -> None:
    model = f"C{uuid.uuid4().hex[:5]}"
    when = dt.datetime.now(dt.UTC).isoformat()
    csv = f"source,platform,self_operated,brand,model,price,observed_at,url\necommerce,JD,true,惠普,{model},1999.00,{when},https://x\nmanufacturer,HP,false,HP,{model},abc,{when},\n"
    result = (
        await client.post(
            IMPORT,
            content=csv.encode(),
            headers={**signed_in[OrgKind.OPERATOR], "content-type": "text/csv"},
        )
    ).json()
    assert (result["accepted"], result["rejected"]) == (1, 1)
    malformed = await client.post(IMPORT, json={"rows": []}, headers=signed_in[OrgKind.OPERATOR])
    assert malformed.status_code == 422 and malformed.json()["code"] == "pricing.import_malformed"


async def test_review_compares_with_the_baseline_across_brand_aliases(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    model = f"A4-{uuid.uuid4().hex[:5]}"
    await client.post(
        IMPORT,
        json={
            "observations": [
                observation(model, "23.00", "JD"),
                observation(model, "22.00", "Suning"),
            ]
        },
        headers=signed_in[OrgKind.OPERATOR],
    )
    headers = await login(await make_account(OrgKind.SUPPLIER))
    body = {
        "category_code": "A090101",
        "brand": "Deli",
        "model": model,
        "title": f"Deli 得力 {model} A4 复印纸 70g 500张/包",
        "price": "25.00",
        "unit": "包",
        "attributes": {"幅面": "A4", "克重": 70, "每包张数": 500},
        "submit": True,
    }
    listing = (await client.post("/api/v1/listings/", json=body, headers=headers)).json()
    async with session_maker() as session, session.begin():
        await flow.review_revision(session, settings, uuid.UUID(listing["revision"]["id"]))
    findings = (
        await client.get(f"/api/v1/listings/{listing['id']}/review", headers=headers)
    ).json()["findings"]
    above = [f for f in findings if f["rule_id"] == "PRICE.ABOVE_MARKET"]
    assert (
        above and "baseline=22.00" in above[0]["evidence"]
    )  # the lowest self-operated price, via deli = 得力


async def test_a_category_can_average_instead_of_taking_the_lowest(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    code = f"A0901{uuid.uuid4().int % 10**6:06d}"
    category = {
        "name_zh": "测试复印纸（均价）",
        "name_en": "Test paper (mean price)",
        "parent_code": "A09",
        "attributes": [
            {"name": "幅面", "type": "enum", "required": True, "allowed_values": ["A4", "A3"]}
        ],
        "usual_units": ["包"],
        "price_tolerance_pct": "3",
        "price_policy": {"aggregate": "mean", "sources": ["ecommerce"], "freshness_days": 30},
    }
    bad = await client.put(
        f"/api/v1/categories/{code}",
        json=category | {"price_policy": {"aggregate": "max"}},
        headers=operator,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "price_policy"
    created = await client.put(f"/api/v1/categories/{code}", json=category, headers=operator)
    assert created.status_code == 200, created.text
    model = f"M-{uuid.uuid4().hex[:5]}"
    await client.post(
        IMPORT,
        json={
            "observations": [
                observation(model, "22.00", "JD"),
                observation(model, "26.00", "Suning"),
            ]
        },
        headers=operator,
    )
    headers = await login(await make_account(OrgKind.SUPPLIER))
    body = {
        "category_code": code,
        "brand": "得力",
        "model": model,
        "title": f"得力 {model} A4 复印纸 70g 500张/包",
        "price": "25.00",
        "unit": "包",
        "attributes": {"幅面": "A4"},
        "submit": True,
    }
    listing = (await client.post("/api/v1/listings/", json=body, headers=headers)).json()
    async with session_maker() as session, session.begin():
        await flow.review_revision(session, settings, uuid.UUID(listing["revision"]["id"]))
    findings = (
        await client.get(f"/api/v1/listings/{listing['id']}/review", headers=headers)
    ).json()["findings"]
    [above] = [f for f in findings if f["rule_id"] == "PRICE.ABOVE_MARKET"]
    assert "baseline=24.00" in above["evidence"] and "deviation=4.17%" in above["evidence"]


async def test_json_lines_import(client, signed_in) -> None:
    model = f"J{uuid.uuid4().hex[:5]}"
    lines = "\n".join(
        [
            json.dumps(observation(model, "9.90", "JD")),
            "not json",
            json.dumps(observation(model, "x", "Tmall")),
        ]
    )
    result = (
        await client.post(
            IMPORT,
            content=lines.encode(),
            headers={**signed_in[OrgKind.OPERATOR], "content-type": "application/x-ndjson"},
        )
    ).json()
    assert (result["accepted"], result["rejected"]) == (1, 2)
    assert {e["row"] for e in result["errors"]} == {2, 3}
