"""Helpers shared by the case, penalty and disclosure tests."""

from __future__ import annotations

import random
import uuid

from sqlalchemy import select

from catalog.categories import seed_demo_categories
from catalog.models import ReviewDecision
from mall.listings import service as flow
from mall.suppliers import commitment
from mall.suppliers.uscc import ALPHABET, check_character

CASES = "/api/v1/cases/"


def new_uscc(region: str = "150203") -> str:
    body = "91" + region + "".join(random.choice(ALPHABET[:10]) for _ in range(9))
    return body + check_character(body)


def application(**overrides) -> dict:
    suffix = uuid.uuid4().hex[:8]
    body = {
        "company_name": f"包头市案件测试商贸有限公司{suffix}",
        "uscc": new_uscc(),
        "region_code": "150203",
        "business_type": "enterprise",
        "legal_representative": "王五",
        "contact_name": "赵六",
        "contact_mobile": "13800471234",
        "categories": ["A090101"],
        "admin_email": f"case-{suffix}@supplier.example.com",
        "admin_password": "Supplier#2026",
        "commitment_accepted": True,
        "commitment_version": commitment.CURRENT_VERSION,
    }
    body.update(overrides)
    return body


async def headers_for(client, email: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def paper(model: str, price: str = "26.00") -> dict:
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


async def listing_of(client, session_maker, settings, headers) -> dict:
    """A listing reviewed by the rules (paper without images is rejected)."""
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    created = await client.post(
        "/api/v1/listings/", json=paper(f"C{uuid.uuid4().hex[:6]}"), headers=headers
    )
    assert created.status_code == 201, created.text
    listing = created.json()
    async with session_maker() as session, session.begin():
        await flow.review_revision(session, settings, uuid.UUID(listing["revision"]["id"]))
    return listing


async def decision_of(session_maker, listing_id: str) -> ReviewDecision:
    async with session_maker() as session:
        return (
            await session.scalars(
                select(ReviewDecision)
                .where(ReviewDecision.listing_id == uuid.UUID(listing_id))
                .order_by(ReviewDecision.created_at.desc())
            )
        ).first()


async def handle(client, operator, case_id: str, outcome: str, **extra) -> dict:
    """Accept, investigate and decide a case as an operator."""
    for step in ("accept", "investigate"):
        response = await client.post(f"{CASES}{case_id}/{step}", json={}, headers=operator)
        assert response.status_code == 200, response.text
    decided = await client.post(
        f"{CASES}{case_id}/decide",
        json={"outcome": outcome, "note": "经核查", **extra},
        headers=operator,
    )
    assert decided.status_code == 200, decided.text
    return decided.json()
