"""API tokens for supplier system integrations: shown once, stored hashed, scoped to the organisation."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from mall.audit.models import AuditEvent
from mall.auth.models import ApiToken, OrgKind
from mall.auth.tokens import hash_api_token

TOKENS = "/api/v1/auth/api-tokens/"


async def test_create_use_list_and_revoke(client, make_account, login, session_maker) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    headers = await login(supplier)
    created = await client.post(TOKENS, json={"name": "ERP 对接"}, headers=headers)
    assert created.status_code == 201
    body = created.json()
    secret = body["token"]
    assert secret.startswith("mall_") and body["prefix"] == secret[:12]

    async with session_maker() as session:
        stored = await session.get(ApiToken, body["id"])
        assert stored.token_hash == hash_api_token(secret)
        assert secret not in (stored.token_hash, stored.token_prefix)

    token_headers = {"Authorization": f"Bearer {secret}"}
    me = await client.get("/api/v1/me", headers=token_headers)
    assert me.status_code == 200
    assert me.json()["org_id"] == str(supplier.user.org_id)

    listed = await client.get(TOKENS, headers=headers)
    assert [t["id"] for t in listed.json()] == [body["id"]]
    assert "token" not in listed.json()[0]
    assert listed.json()[0]["last_used_at"] is not None

    revoked = await client.delete(f"{TOKENS}{body['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = await client.get("/api/v1/me", headers=token_headers)
    assert refused.status_code == 401
    assert refused.json()["code"] == "auth.api_token_invalid"
    assert (await client.get(TOKENS, headers=headers)).json() == []

    async with session_maker() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_id == body["id"])
                .order_by(AuditEvent.id)
            )
        ).all()
    assert actions == ["auth.api_token.created", "auth.api_token.revoked"]


async def test_another_supplier_neither_sees_nor_revokes(client, make_account, login) -> None:
    owner, other = await make_account(OrgKind.SUPPLIER), await make_account(OrgKind.SUPPLIER)
    owner_headers, other_headers = await login(owner), await login(other)
    token = (await client.post(TOKENS, json={"name": "wms"}, headers=owner_headers)).json()

    assert (await client.get(TOKENS, headers=other_headers)).json() == []
    attempt = await client.delete(f"{TOKENS}{token['id']}", headers=other_headers)
    assert attempt.status_code == 404
    assert attempt.json()["code"] == "auth.api_token_not_found"
    still = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token['token']}"})
    assert still.status_code == 200


async def test_colleague_in_the_same_org_sees_the_token(client, make_account, login) -> None:
    first = await make_account(OrgKind.SUPPLIER, "内蒙古共享令牌测试有限公司")
    second = await make_account(OrgKind.SUPPLIER, "内蒙古共享令牌测试有限公司")
    token = (await client.post(TOKENS, json={"name": "shared"}, headers=await login(first))).json()
    listed = (await client.get(TOKENS, headers=await login(second))).json()
    assert [t["id"] for t in listed] == [token["id"]]


async def test_purchasers_and_regulators_cannot_hold_tokens(client, signed_in) -> None:
    for kind in (OrgKind.PURCHASER, OrgKind.REGULATOR):
        response = await client.post(TOKENS, json={"name": "x"}, headers=signed_in[kind])
        assert response.status_code == 403, kind
        assert response.json()["code"] == "auth.forbidden"
    operator = await client.post(
        TOKENS, json={"name": "price feed"}, headers=signed_in[OrgKind.OPERATOR]
    )
    assert operator.status_code == 201


async def test_a_token_cannot_mint_tokens(client, make_account, login) -> None:
    headers = await login(await make_account(OrgKind.SUPPLIER))
    secret = (await client.post(TOKENS, json={"name": "erp"}, headers=headers)).json()["token"]
    response = await client.post(
        TOKENS, json={"name": "child"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "auth.api_token_not_allowed"


async def test_expiry(client, make_account, login, session_maker) -> None:
    headers = await login(await make_account(OrgKind.SUPPLIER))
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    rejected = await client.post(TOKENS, json={"name": "old", "expires_at": past}, headers=headers)
    assert rejected.status_code == 422
    assert rejected.json()["code"] == "auth.api_token_expiry"

    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    token = (
        await client.post(TOKENS, json={"name": "soon", "expires_at": soon}, headers=headers)
    ).json()
    token_headers = {"Authorization": f"Bearer {token['token']}"}
    assert (await client.get("/api/v1/me", headers=token_headers)).status_code == 200
    async with session_maker() as session, session.begin():
        stored = await session.get(ApiToken, token["id"])
        stored.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert (await client.get("/api/v1/me", headers=token_headers)).status_code == 401


async def test_bad_input_writes_nothing(client, make_account, login, session_maker) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    headers = await login(supplier)
    for body in ({"name": ""}, {"name": "x" * 101}, {"name": "ok", "unexpected": 1}, {}):
        response = await client.post(TOKENS, json=body, headers=headers)
        assert response.status_code == 422, body
    async with session_maker() as session:
        count = len(
            (
                await session.scalars(
                    select(ApiToken).where(ApiToken.org_id == supplier.user.org_id)
                )
            ).all()
        )
    assert count == 0
