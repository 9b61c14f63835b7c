"""Public disclosure: no login, rate limited; listings carry their supplier's
credit score; supplier profiles, penalties, SLA statistics."""

from __future__ import annotations

import dataclasses
import uuid

from case_support import listing_of, put_on_sale
from litestar.testing import AsyncTestClient

from mall.auth.models import OrgKind


async def test_public_endpoints_need_no_login(
    client, make_account, login, session_maker, settings
) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    headers = await login(supplier)
    listing = await listing_of(client, session_maker, settings, headers)
    await put_on_sale(session_maker, listing["id"])
    org_id = str(supplier.user.org_id)

    shown = (await client.get("/api/v1/public/listings", params={"supplier_id": org_id})).json()
    assert [row["id"] for row in shown] == [listing["id"]]
    assert shown[0]["supplier"] == {
        "id": org_id,
        "name": supplier.org_name,
        "credit_score": "100.0",
        "credit_grade": "A",
    }
    assert shown[0]["price"] == "26.00"
    by_category = (
        await client.get("/api/v1/public/listings", params={"category": "A09", "limit": 200})
    ).json()
    assert listing["id"] in [row["id"] for row in by_category]
    assert (await client.get("/api/v1/public/listings", params={"category": "B99"})).json() == []

    profile = (await client.get(f"/api/v1/public/suppliers/{org_id}")).json()
    assert profile["name"] == supplier.org_name and profile["standing"] == "active"
    assert profile["credit_grade"] == "A" and profile["sanctions"] == []
    assert (await client.get(f"/api/v1/public/suppliers/{uuid.uuid4()}")).status_code == 404
    suppliers = (await client.get("/api/v1/public/suppliers", params={"limit": 200})).json()
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


async def test_public_endpoints_are_rate_limited(settings, database_url, redis_url) -> None:
    from mall.app import create_app

    tight = dataclasses.replace(
        settings,
        mall=dataclasses.replace(settings.mall, public_requests_per_minute=3),
        redis=dataclasses.replace(
            settings.redis, key_prefix=f"{settings.redis.key_prefix}-rl-{uuid.uuid4().hex[:6]}"
        ),
    )
    app = create_app(tight, database_url=database_url, redis_url=redis_url)
    async with AsyncTestClient(app=app) as limited:
        codes = [(await limited.get("/api/v1/public/credit/formula")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = await limited.get("/api/v1/public/penalties")
        assert refused.status_code == 429 and refused.json()["code"] == "throttled"
        # Signed-in APIs are not limited this way.
        assert (await limited.get("/health")).status_code == 200
