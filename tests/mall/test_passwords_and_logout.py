"""Password rules wherever a password is set, changing a password, signing out."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import select

from mall.audit.models import AuditEvent
from mall.auth.accounts import create_user
from mall.auth.models import OrgKind
from mall.auth.passwords import password_problem
from mall.errors import InvalidError

LOGIN = "/api/v1/auth/login"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short-pw1", "user.password_too_short"),  # 9 characters
        ("password123", "user.password_common"),
        ("Qwertyuiop", "user.password_common"),
        ("1234567890", "user.password_common"),
        ("zhang.wei@example.cn", "user.password_is_email"),
        ("ZHANG.WEI@example.cn", "user.password_is_email"),
        ("zhang.wei.longer", None),
        ("pw-0a1b2c3d-long", None),  # what the test accounts use
        ("Buyer#2026", None),  # the demo accounts' passwords
        ("Supplier#2026", None),
    ],
)
def test_password_rules(password, code) -> None:
    problem = password_problem(password, "zhang.wei@example.cn")
    assert (problem.code if problem else None) == code
    if problem:
        assert problem.message and problem.message_zh


async def test_create_user_refuses_a_weak_password(session_maker) -> None:
    async with session_maker() as session:
        with pytest.raises(InvalidError) as refused:
            await create_user(
                session,
                kind=OrgKind.PURCHASER,
                org_name="包头市第二中学",
                email=f"weak-{uuid.uuid4().hex[:6]}@test.example.com",
                password="password12",
            )
    assert refused.value.code == "user.password_common"
    assert refused.value.errors[0]["field"] == "password"


async def test_user_create_command_refuses_a_common_password(database_url) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    cli = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "mall",
            "user",
            "create",
            "--kind",
            "purchaser",
            "--org",
            "某单位",
            "--email",
            f"cli-{uuid.uuid4().hex[:6]}@test.example.com",
            "--password",
            "1q2w3e4r5t",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 2, cli.stderr
    assert json.loads(cli.stderr.strip().splitlines()[-1])["code"] == "user.password_common"


async def test_registration_refuses_the_email_as_password(client) -> None:
    from case_support import application

    body = application()
    body["admin_password"] = body["admin_email"]
    response = await client.post("/api/v1/suppliers/applications", json=body)
    assert response.status_code == 422, response.text
    error = next(e for e in response.json()["errors"] if e["field"] == "admin_password")
    assert error["code"] == "user.password_is_email"


async def test_change_password(client, make_account, login, session_maker) -> None:
    account = await make_account(OrgKind.SUPPLIER)
    first = await login(account)
    second = await login(account)
    new = f"new-{uuid.uuid4().hex[:8]}-pass"

    wrong = await client.post(
        "/api/v1/me/password",
        json={"current_password": "not-it-at-all", "new_password": new},
        headers=first,
    )
    assert wrong.status_code == 422
    assert wrong.json()["code"] == "auth.current_password_wrong"
    weak = await client.post(
        "/api/v1/me/password",
        json={"current_password": account.password, "new_password": "iloveyou12"},
        headers=first,
    )
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["field"] == "new_password"

    changed = await client.post(
        "/api/v1/me/password",
        json={"current_password": account.password, "new_password": new},
        headers=first,
    )
    assert changed.status_code == 200, changed.text
    fresh = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    assert (await client.get("/api/v1/me", headers=fresh)).status_code == 200
    # Every token issued before the change stops working, on every device.
    for old in (first, second):
        refused = await client.get("/api/v1/me", headers=old)
        assert refused.status_code == 401
        assert refused.json()["code"] == "auth.token_revoked"
    assert (
        await client.post(LOGIN, json={"email": account.email, "password": account.password})
    ).status_code == 401
    assert (
        await client.post(LOGIN, json={"email": account.email, "password": new})
    ).status_code == 200
    async with session_maker() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.subject_id == str(account.user.id))
            )
        ).all()
    assert "auth.password_changed" in actions


async def test_logout_revokes_the_token(client, make_account, login, session_maker) -> None:
    account = await make_account(OrgKind.PURCHASER)
    kept, ended = await login(account), await login(account)
    out = await client.post("/api/v1/auth/logout", headers=ended)
    assert out.status_code == 204
    refused = await client.get("/api/v1/me", headers=ended)
    assert refused.status_code == 401
    assert refused.json()["code"] == "auth.token_revoked"
    # Another sign-in of the same user goes on.
    assert (await client.get("/api/v1/me", headers=kept)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=ended)).status_code == 401
    async with session_maker() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.subject_id == str(account.user.id))
            )
        ).all()
    assert "auth.logout" in actions


async def test_an_api_token_is_not_signed_out(client, signed_in) -> None:
    created = await client.post(
        "/api/v1/auth/api-tokens/", json={"name": "erp"}, headers=signed_in[OrgKind.SUPPLIER]
    )
    token = {"Authorization": f"Bearer {created.json()['token']}"}
    response = await client.post("/api/v1/auth/logout", headers=token)
    assert response.status_code == 403
    assert response.json()["code"] == "auth.api_token_not_allowed"
