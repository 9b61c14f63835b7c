"""The `mall` command line against the test database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

from sqlalchemy import select

from mall.auth.models import Organisation, supplier_category


async def _mall(database_url: str, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "mall", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_user_create_migrated_supplier(database_url, redis_url, session_maker) -> None:
    email = f"cli-{uuid.uuid4().hex[:6]}@test.example.com"
    result = await _mall(
        database_url,
        redis_url,
        "user",
        "create",
        "--kind",
        "supplier",
        "--org",
        f"迁移供应商 {email}",
        "--email",
        email,
        "--password",
        "Secret#2026",
        "--categories",
        "A02010104,A02010105",
    )
    assert result.returncode == 0, result.stderr
    ids = json.loads(result.stdout)
    async with session_maker() as session:
        org = await session.get(Organisation, uuid.UUID(ids["org_id"]))
        codes = (
            await session.scalars(
                select(supplier_category.c.category_code).where(
                    supplier_category.c.org_id == org.id
                )
            )
        ).all()
    assert org.kind == "supplier" and org.status == "active"
    assert org.verification_channel == "offline" and org.verified_at is not None
    assert org.qualified_until is not None and org.qualified_until.month == 12
    assert not org.all_categories and sorted(codes) == ["A02010104", "A02010105"]

    again = await _mall(
        database_url,
        redis_url,
        "user",
        "create",
        "--kind",
        "supplier",
        "--org",
        "x",
        "--email",
        email,
        "--password",
        "Secret#2026",
    )
    assert again.returncode == 2
    assert json.loads(again.stderr.strip().splitlines()[-1])["code"] == "user.email_taken"


async def test_user_create_every_category_by_default(
    database_url, redis_url, session_maker
) -> None:
    email = f"cli-{uuid.uuid4().hex[:6]}@test.example.com"
    result = await _mall(
        database_url,
        redis_url,
        "user",
        "create",
        "--kind",
        "supplier",
        "--org",
        f"全品类供应商 {email}",
        "--email",
        email,
        "--password",
        "Secret#2026",
    )
    org_id = uuid.UUID(json.loads(result.stdout)["org_id"])
    async with session_maker() as session:
        assert (await session.get(Organisation, org_id)).all_categories


async def test_seed_demo_is_idempotent(database_url, redis_url, client) -> None:
    first = await _mall(database_url, redis_url, "seed-demo")
    second = await _mall(database_url, redis_url, "seed-demo")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert json.loads(second.stdout) == {"created": []}
    login = await client.post(
        "/api/v1/auth/login", json={"email": "buyer@emall.example.com", "password": "Buyer#2026"}
    )
    assert login.status_code == 200


async def test_audit_verify_ok(database_url, redis_url) -> None:
    result = await _mall(database_url, redis_url, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
