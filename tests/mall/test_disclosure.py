"""Public disclosure: no login, rate limited; listings carry their supplier's
credit score; supplier profiles, penalties, SLA statistics."""

from __future__ import annotations

import uuid

from case_support import listing_of
from support import put_on_sale

from mall.auth.models import OrgKind


async def test_public_endpoints_need_no_login(
    client, make_account, login, session_maker, settings
) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    headers = await login(supplier)
    listing = await listing_of(client, session_maker, settings, headers)
    await put_on_sale(session_maker, listing["id"])
    org_id = str(supplier.user.org_id)
    purchaser = await make_account(OrgKind.PURCHASER)

    shown = (await client.get("/api/v1/public/listings", params={"supplier_id": org_id})).json()[
        "items"
    ]
    assert [row["id"] for row in shown] == [listing["id"]]
    assert shown[0]["supplier"] == {
        "id": org_id,
        "name": supplier.org_name,
        "credit_score": "100.0",
        "credit_grade": "A",
    }
    assert shown[0]["price"] == "26.00"
    # Purchasers see the same score on the listing's page.
    page = (
        await client.get(f"/api/v1/listings/{listing['id']}", headers=await login(purchaser))
    ).json()
    assert page["supplier"]["credit_score"] == "100.0" and page["supplier"]["credit_grade"] == "A"
    by_category = (
        await client.get("/api/v1/public/listings", params={"category": "A09", "page_size": 200})
    ).json()["items"]
    assert listing["id"] in [row["id"] for row in by_category]
    assert (await client.get("/api/v1/public/listings", params={"category": "B99"})).json()[
        "items"
    ] == []

    profile = (await client.get(f"/api/v1/public/suppliers/{org_id}")).json()
    assert profile["name"] == supplier.org_name and profile["standing"] == "active"
    assert profile["credit_grade"] == "A" and profile["sanctions"] == []
    assert (await client.get(f"/api/v1/public/suppliers/{uuid.uuid4()}")).status_code == 404
    suppliers = (await client.get("/api/v1/public/suppliers", params={"page_size": 200})).json()[
        "items"
    ]
    assert all("sanctions" not in s or s["sanctions"] is None for s in suppliers)

    formula = (await client.get("/api/v1/public/credit/formula")).json()
    assert formula["start"] == 100 and formula["restored_days"] == 730

    stats = await client.get("/api/v1/public/sla-stats")
    assert stats.status_code == 200 and isinstance(stats.json(), list)
    bad = await client.get("/api/v1/public/sla-stats", params={"from": "yesterday"})
    assert bad.status_code == 422
    assert (await client.get("/api/v1/public/penalties")).status_code == 200
    assert (await client.get("/api/v1/public/spot-checks")).status_code == 200
    assert "RateLimit-Limit" in stats.headers


async def test_public_endpoints_are_rate_limited(client, settings, redis) -> None:
    """The limit is per client address over all public endpoints; the test client
    has one address, so its count is cleared afterwards for the other tests."""
    limit = settings.mall.public_requests_per_minute
    namespace = f"{settings.redis.key_prefix}:public_rate_limit"
    try:
        statuses = [
            (await client.get("/api/v1/public/credit/formula")).status_code
            for _ in range(limit + 1)
        ]
        assert statuses[-1] == 429 and 200 in statuses
        refused = await client.get("/api/v1/public/penalties")
        assert refused.status_code == 429 and refused.json()["code"] == "throttled"
        # Other APIs are not limited this way.
        assert (await client.get("/health")).status_code == 200
    finally:
        keys = [key async for key in redis.scan_iter(f"{namespace}*")]
        if keys:
            await redis.delete(*keys)
    assert (await client.get("/api/v1/public/credit/formula")).status_code == 200


async def test_openapi_lists_the_case_contract(client, make_account) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    filed = await client.post(
        "/api/v1/cases",
        json={
            "type": "report",
            "subject_type": "supplier",
            "subject_id": str(supplier.user.org_id),
            "claim": "无发票",
            "anonymous": True,
        },
    )
    assert filed.status_code == 201 and set(filed.json()) == {"id", "status", "tracking_code"}
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/public/cases/{tracking_code}",
        "/api/v1/public/spot-checks/{check_id}",
    ):
        assert path in paths, sorted(p for p in paths if "case" in p or "public" in p)
