"""A supplier not in good standing may sign in and read, not publish or create tokens."""

from __future__ import annotations

import datetime as dt

from case_support import paper
from sqlalchemy import update

from catalog.categories import seed_demo_categories
from mall.auth.models import Organisation, OrgKind

LISTINGS = "/api/v1/listings/"


async def test_a_suspended_supplier_reads_but_does_not_publish(
    client, make_account, login, signed_in, session_maker
) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    account = await make_account(OrgKind.SUPPLIER)
    headers = await login(account)
    draft = await client.post(LISTINGS, json=paper("SUSP-1"), headers=headers)
    assert draft.status_code == 201, draft.text
    listing_id = draft.json()["id"]

    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    suspended = await client.post(
        f"/api/v1/operator/suppliers/{account.user.org_id}/suspend",
        json={"reason": "价格违规未整改", "until": until},
        headers=signed_in[OrgKind.OPERATOR],
    )
    assert suspended.status_code == 200, suspended.text

    refused = [
        await client.post(LISTINGS, json=paper("SUSP-2"), headers=headers),
        await client.patch(f"{LISTINGS}{listing_id}", json={"price": "20.00"}, headers=headers),
        await client.post(f"{LISTINGS}{listing_id}/submit", headers=headers),
        await client.post(
            "/api/v1/listings/import",
            data={"category": "A090101"},
            files={"file": ("l.csv", b"title,brand\n", "text/csv")},
            headers=headers,
        ),
        await client.post("/api/v1/auth/api-tokens/", json={"name": "erp"}, headers=headers),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        body = response.json()
        assert body["code"] == "supplier.not_active"
        assert "暂停交易" in body["title"] and "suspended" in body["detail"]

    # Reading still works: its own listings, who it is.
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    assert (await client.get(f"{LISTINGS}{listing_id}", headers=headers)).status_code == 200

    async with session_maker() as session, session.begin():
        await session.execute(
            update(Organisation)
            .where(Organisation.id == account.user.org_id)
            .values(status="active")
        )
    again = await client.post("/api/v1/auth/api-tokens/", json={"name": "erp"}, headers=headers)
    assert again.status_code == 201
