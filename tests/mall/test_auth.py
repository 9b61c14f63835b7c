"""Signing in, tokens, throttling, and who-am-I."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from mall.audit.models import AuditEvent
from mall.auth.models import OrgKind, User
from mall.auth.tokens import issue_access_token


async def test_login_and_me(client, make_account) -> None:
    account = await make_account(OrgKind.PURCHASER, "包头市第一医院")
    response = await client.post(
        "/api/v1/auth/login", json={"email": account.email.upper(), "password": account.password}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json() == {
        "id": str(account.user.id),
        "email": account.email,
        "org_id": str(account.user.org_id),
        "org_kind": "purchaser",
        "org_name": "包头市第一医院",
    }


async def test_login_is_audited(client, make_account, session_maker) -> None:
    account = await make_account(OrgKind.SUPPLIER)
    await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    async with session_maker() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_id == str(account.user.id))
                .order_by(AuditEvent.id)
            )
        ).all()
    assert actions == ["user.created", "auth.login"]


async def test_wrong_password_and_unknown_email_look_the_same(client, make_account) -> None:
    account = await make_account(OrgKind.SUPPLIER)
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": "not-the-password"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@test.example.com", "password": "whatever1"}
    )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "auth.invalid_credentials"
        assert response.json()["title"] == "邮箱或密码错误"


async def test_disabled_user_cannot_sign_in_and_its_token_stops_working(
    client, make_account, login, session_maker
) -> None:
    account = await make_account(OrgKind.PURCHASER)
    headers = await login(account)
    async with session_maker() as session, session.begin():
        await session.execute(
            update(User).where(User.id == account.user.id).values(is_active=False)
        )
    me = await client.get("/api/v1/me", headers=headers)
    assert me.status_code == 401
    assert me.json()["code"] == "auth.account_disabled"
    again = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert again.status_code == 401


async def test_expired_and_forged_tokens_are_refused(client, make_account, settings) -> None:
    account = await make_account(OrgKind.OPERATOR)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    expired = issue_access_token(account.user.id, settings.auth.secret_key, 3600, now=long_ago)
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["code"] == "auth.token_expired"

    forged = issue_access_token(account.user.id, "another-secret-of-sufficient-length", 3600)
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.json()["code"] == "auth.token_invalid"

    response = await client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert response.json()["code"] == "auth.bad_scheme"


async def test_success_clears_the_count(client, make_account, settings) -> None:
    account = await make_account(OrgKind.SUPPLIER)
    limit = settings.auth.login_free_failures + 1
    for _ in range(limit - 1):
        await client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": "wrong-pw"}
        )
    ok = await client.post(
        "/api/v1/auth/login", json={"email": account.email, "password": account.password}
    )
    assert ok.status_code == 200
    for _ in range(limit - 1):
        await client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": "wrong-pw"}
        )
    assert (
        await client.post(
            "/api/v1/auth/login", json={"email": account.email, "password": account.password}
        )
    ).status_code == 200
