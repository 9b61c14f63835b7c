"""Helpers for the tests that need orders: a listing on sale, an order placed
and driven through its lifecycle by its two parties over the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from catalog.categories import seed_demo_categories
from catalog.models import Listing, ListingRevision
from mall.auth.models import OrgKind

ORDERS = "/api/v1/orders"
# The steps from placed to completed: (action, side, body).
LIFECYCLE = (
    ("confirm", "seller", None),
    ("ship", "seller", None),
    ("deliver", "seller", None),
    ("request-acceptance", "seller", None),
    ("accept", "buyer", None),
    ("invoice", "seller", {"invoice_number": "15002600000012345678"}),
    ("receive-invoice", "buyer", None),
    ("pay", "buyer", {"payment_reference": "ZF-2026-0001"}),
    ("complete", "seller", None),
)


@dataclass(frozen=True)
class OrderParties:
    purchaser: object
    supplier: object
    buyer: dict[str, str]
    seller: dict[str, str]
    listing_id: str


async def listing_on_sale(
    session_maker, supplier_org_id: uuid.UUID, *, price: str = "25.00", stock: int = 100
) -> str:
    """A listing with an approved live revision, as the review would leave it."""
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    async with session_maker() as session, session.begin():
        listing = Listing(supplier_id=supplier_org_id, category_code="A090101", status="approved")
        session.add(listing)
        await session.flush()
        model = f"M{uuid.uuid4().hex[:6]}"
        revision = ListingRevision(
            listing_id=listing.id,
            supplier_id=supplier_org_id,
            number=1,
            status="approved",
            category_code="A090101",
            brand="得力",
            brand_norm="得力",
            model=model,
            model_norm=model.lower(),
            title=f"得力 {model} A4 复印纸 70g 500张/包",
            attributes={"幅面": "A4", "克重": 70, "每包张数": 500},
            price=Decimal(price),
            unit="包",
            stock=stock,
        )
        session.add(revision)
        await session.flush()
        listing.live_revision_id = listing.current_revision_id = revision.id
        return str(listing.id)


async def order_parties(make_account, login, session_maker) -> OrderParties:
    purchaser = await make_account(OrgKind.PURCHASER, f"包头市第{uuid.uuid4().hex[:6]}中学")
    supplier = await make_account(OrgKind.SUPPLIER, f"内蒙古{uuid.uuid4().hex[:6]}办公设备有限公司")
    listing_id = await listing_on_sale(session_maker, supplier.user.org_id)
    return OrderParties(
        purchaser, supplier, await login(purchaser), await login(supplier), listing_id
    )


async def placed_order(client, parties: OrderParties, quantity: int = 3) -> dict:
    response = await client.post(
        ORDERS,
        json={
            "lines": [{"listing_id": parties.listing_id, "quantity": quantity}],
            "delivery_address": "包头市昆都仑区钢铁大街 9 号 总务处",
            "contact_name": "王老师",
            "contact_phone": "0472-5123456",
            "budget_code": "BT-2026-JY-0091",
            "funding_source": "fiscal",
        },
        headers=parties.buyer | {"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def advance(
    client, parties: OrderParties, order_id: str, until: str = "complete", after: str | None = None
) -> dict:
    """Take the order through its lifecycle up to and including the action ``until``
    (starting after the action ``after``, when it is given)."""
    body: dict = {}
    actions = [step[0] for step in LIFECYCLE]
    start = actions.index(after) + 1 if after else 0
    for action, side, payload in LIFECYCLE[start:]:
        headers = parties.seller if side == "seller" else parties.buyer
        response = await client.post(f"{ORDERS}/{order_id}/{action}", json=payload, headers=headers)
        assert response.status_code == 200, (action, response.text)
        body = response.json()
        if action == until:
            break
    return body


async def completed_order(client, parties: OrderParties, quantity: int = 3) -> dict:
    order = await placed_order(client, parties, quantity)
    return await advance(client, parties, order["id"])
