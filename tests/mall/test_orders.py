"""Orders on the real stack: placing with stock reserved, idempotency, every
transition and every forbidden one, the guard matrix, deadlines across the
2026 holidays, and a race for the last units."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from catalog.categories import seed_demo_categories
from catalog.models import Listing, ListingRevision
from mall.audit.models import AuditEvent
from mall.auth.models import OrgKind
from mall.notifications.models import Notification
from mall.orders import change_requests as change_module
from mall.orders import service as order_module
from mall.orders.models import OrderIdempotencyKey, PurchaseOrder
from mall.sla.models import SlaClock

ORDERS = "/api/v1/orders"
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
async def demo_categories(session_maker) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)


async def on_sale(
    session_maker, supplier_org_id: uuid.UUID, *, price: str = "25.00", stock: int = 100
) -> str:
    """A listing with an approved live revision, as the review would leave it."""
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


async def stock_of(session_maker, listing_id: str) -> int:
    async with session_maker() as session:
        return await session.scalar(
            select(ListingRevision.stock)
            .join(Listing, Listing.live_revision_id == ListingRevision.id)
            .where(Listing.id == uuid.UUID(listing_id))
        )


def order_body(*lines: tuple[str, int], **overrides) -> dict:
    body = {
        "lines": [{"listing_id": lid, "quantity": q} for lid, q in lines],
        "delivery_address": "包头市昆都仑区钢铁大街 9 号 第九中学 总务处",
        "contact_name": "王老师",
        "contact_phone": "0472-5123456",
        "budget_code": "BT-2026-JY-0091",
        "funding_source": "fiscal",
        "requested_delivery_date": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
    }
    return body | overrides


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


class Parties:
    """A purchasing unit and a supplier with their sign-in headers, and a listing on sale."""

    def __init__(self, purchaser, supplier, buyer, seller, listing_id) -> None:
        self.purchaser, self.supplier = purchaser, supplier
        self.buyer, self.seller = buyer, seller
        self.listing_id = listing_id


@pytest.fixture
async def parties(demo_categories, make_account, login, session_maker) -> Parties:
    purchaser = await make_account(OrgKind.PURCHASER)
    supplier = await make_account(OrgKind.SUPPLIER)
    listing_id = await on_sale(session_maker, supplier.user.org_id)
    return Parties(purchaser, supplier, await login(purchaser), await login(supplier), listing_id)


async def place(client, p: Parties, quantity: int = 3, **overrides) -> dict:
    response = await client.post(
        ORDERS,
        json=order_body((p.listing_id, quantity), **overrides),
        headers=p.buyer | key(),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def act(client, headers, order_id: str, action: str, body: dict | None = None):
    return await client.post(f"{ORDERS}/{order_id}/{action}", json=body, headers=headers)


async def test_place_order_snapshots_reserves_and_starts_clocks(
    client, parties, session_maker
) -> None:
    order = await place(client, parties, quantity=3, note="请工作日送货")
    assert order["status"] == "placed" and order["note"] == "请工作日送货"
    assert order["total_amount"] == "75.00"
    [line] = order["lines"]
    assert line["unit_price"] == "25.00" and line["unit"] == "包" and "复印纸" in line["title"]
    assert await stock_of(session_maker, parties.listing_id) == 97
    shown = (
        await client.get(f"/api/v1/listings/{parties.listing_id}", headers=parties.buyer)
    ).json()
    assert shown["stock"] == 97

    detail = (await client.get(f"{ORDERS}/{order['id']}", headers=parties.buyer)).json()
    assert {c["kind"] for c in detail["clocks"]} == {"order_confirmation", "contract"}
    assert [e["action"] for e in detail["timeline"]] == ["order.placed"]
    assert detail["allowed_actions"] == ["cancel"]
    notes = (await client.get("/api/v1/notifications/", headers=parties.seller)).json()["items"]
    [note] = [n for n in notes if n["kind"] == "order.placed" and n["subject_id"] == order["id"]]
    assert order["id"] in note["title_zh"] and order["id"] in note["title_en"]
    assert "（含）前确认" in note["title_zh"] and "(inclusive)" in note["title_en"]

    # The snapshot stays when the listing's price changes later.
    async with session_maker() as session, session.begin():
        listing = await session.get(Listing, uuid.UUID(parties.listing_id))
        (await session.get(ListingRevision, listing.live_revision_id)).price = Decimal("30.00")
    again = (await client.get(f"{ORDERS}/{order['id']}", headers=parties.buyer)).json()
    assert again["lines"][0]["unit_price"] == "25.00"


# (status reached, action, who acts, body)
HAPPY_PATH = [
    ("confirm", "seller", None),
    ("ship", "seller", None),
    ("deliver", "seller", None),
    ("request-acceptance", "seller", None),
    ("reject-acceptance", "buyer", {"reason": "两箱纸受潮，请更换"}),
    ("request-acceptance", "seller", None),
    ("accept", "buyer", None),
    ("invoice", "seller", {"invoice_number": "15002600000012345678"}),
    ("receive-invoice", "buyer", None),
    ("pay", "buyer", {"payment_reference": "GK-2026-000123"}),
    ("complete", "seller", None),
]
TARGET = {
    "confirm": "confirmed",
    "ship": "shipped",
    "deliver": "delivered",
    "request-acceptance": "acceptance_requested",
    "reject-acceptance": "acceptance_rejected",
    "accept": "accepted",
    "invoice": "invoiced",
    "receive-invoice": "invoice_received",
    "pay": "paid",
    "complete": "completed",
}


async def test_every_transition_and_every_forbidden_one(client, parties, session_maker) -> None:
    order = await place(client, parties)
    oid = order["id"]
    sides = {"buyer": parties.buyer, "seller": parties.seller}
    expected_status = "placed"
    for action, who, body in HAPPY_PATH:
        # Every other action, by either side, is refused with the allowed list.
        for side, headers in sides.items():
            kind = OrgKind.PURCHASER if side == "buyer" else OrgKind.SUPPLIER
            allowed = [
                t.action
                for t in order_module.TRANSITIONS.values()
                if expected_status in t.sources and t.may(kind)
            ]
            for other in order_module.ACTIONS:
                if other in allowed:
                    continue
                refused = await act(client, headers, oid, other, {"reason": "x"})
                assert refused.status_code == 409, (expected_status, side, other, refused.text)
                problem = refused.json()
                assert problem["code"] == "order.transition_not_allowed"
                assert problem["allowed"] == allowed and problem["current_status"] == (
                    expected_status
                )
        moved = await act(client, sides[who], oid, action, body)
        assert moved.status_code == 200, (action, moved.text)
        expected_status = TARGET[action]
        assert moved.json()["status"] == expected_status

    detail = (await client.get(f"{ORDERS}/{oid}", headers=parties.buyer)).json()
    assert detail["status"] == "completed"
    assert detail["invoice_number"] == "15002600000012345678"
    assert detail["paid_amount"] == "75.00"
    assert [e["action"] for e in detail["timeline"]] == ["order.placed"] + [
        f"order.{TARGET[a]}" for a, _, _ in HAPPY_PATH
    ]
    clocks = {(c["kind"], c["started_at"]): c for c in detail["clocks"]}
    kinds = sorted(kind for kind, _ in clocks)
    assert kinds == ["acceptance", "acceptance", "contract", "order_confirmation", "payment"]
    assert all(c["met_at"] is not None for c in clocks.values())
    for terminal in order_module.ACTIONS:
        assert (await act(client, parties.buyer, oid, terminal, {"reason": "x"})).status_code == 409
    # Each transition told the other side.
    async with session_maker() as session:
        kinds_told = set(
            (
                await session.scalars(
                    select(Notification.kind).where(Notification.subject_id == oid)
                )
            ).all()
        )
    assert {f"order.{t}" for t in TARGET.values()} <= kinds_told


async def test_a_rejected_acceptance_needs_a_reason(client, parties) -> None:
    oid = (await place(client, parties))["id"]
    for action in ("confirm", "ship", "deliver", "request-acceptance"):
        assert (await act(client, parties.seller, oid, action)).status_code == 200
    refused = await act(client, parties.buyer, oid, "reject-acceptance", {})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "reason"
    refused = await act(client, parties.seller, oid, "accept")
    assert refused.status_code == 409 and refused.json()["allowed"] == []


async def test_cancel_before_confirmation_by_either_side_restores_stock(
    client, parties, session_maker
) -> None:
    first = await place(client, parties, quantity=5)
    second = await place(client, parties, quantity=7)
    assert await stock_of(session_maker, parties.listing_id) == 88
    assert (await act(client, parties.buyer, first["id"], "cancel", {})).status_code == 422
    done = await act(client, parties.buyer, first["id"], "cancel", {"reason": "预算调整"})
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    assert done.json()["total_amount"] == "0.00"
    done = await act(client, parties.seller, second["id"], "cancel", {"reason": "暂时缺货"})
    assert done.status_code == 200 and done.json()["status_reason"] == "暂时缺货"
    assert await stock_of(session_maker, parties.listing_id) == 100
    again = await act(client, parties.buyer, first["id"], "cancel", {"reason": "再取消"})
    assert again.status_code == 409
    assert await stock_of(session_maker, parties.listing_id) == 100
    clocks = (await client.get(f"{ORDERS}/{first['id']}", headers=parties.buyer)).json()["clocks"]
    assert all(c["met_at"] for c in clocks)

    third = await place(client, parties)
    assert (await act(client, parties.seller, third["id"], "confirm")).status_code == 200
    late = await act(client, parties.buyer, third["id"], "cancel", {"reason": "不要了"})
    assert late.status_code == 409 and late.json()["allowed"] == []


async def test_guard_matrix(client, parties, make_account, login, signed_in) -> None:
    oid = (await place(client, parties))["id"]
    other_buyer = await login(await make_account(OrgKind.PURCHASER))
    other_seller = await login(await make_account(OrgKind.SUPPLIER))
    operator, regulator = signed_in[OrgKind.OPERATOR], signed_in[OrgKind.REGULATOR]

    # Reading: the two parties, operators and regulators; others are told nothing exists.
    for headers, status in [
        (parties.buyer, 200),
        (parties.seller, 200),
        (operator, 200),
        (regulator, 200),
        (other_buyer, 404),
        (other_seller, 404),
    ]:
        assert (await client.get(f"{ORDERS}/{oid}", headers=headers)).status_code == status
        listed = (await client.get(ORDERS, headers=headers)).json()["items"]
        assert (oid in [o["id"] for o in listed]) is (status == 200)

    # Acting: only the parties' kinds reach the order; another organisation of
    # the same kind does not see it; operators and regulators may not act.
    for action in order_module.ACTIONS:
        body = {"reason": "x"}
        assert (await act(client, other_buyer, oid, action, body)).status_code == 404
        assert (await act(client, other_seller, oid, action, body)).status_code == 404
        assert (await act(client, operator, oid, action, body)).status_code == 403
        assert (await act(client, regulator, oid, action, body)).status_code == 403
    # The supplier may confirm; the purchasing unit may not.
    refused = await act(client, parties.buyer, oid, "confirm")
    assert refused.status_code == 409 and refused.json()["allowed"] == ["cancel"]
    assert (await act(client, parties.seller, oid, "confirm")).status_code == 200

    # Only purchasing units place orders.
    for headers in (parties.seller, operator, regulator):
        response = await client.post(
            ORDERS, json=order_body((parties.listing_id, 1)), headers=headers | key()
        )
        assert response.status_code == 403
    assert (await act(client, parties.seller, oid, "teleport")).status_code == 404


async def test_idempotency(client, parties, session_maker) -> None:
    headers = parties.buyer | key()
    body = order_body((parties.listing_id, 2))
    first = await client.post(ORDERS, json=body, headers=headers)
    again = await client.post(ORDERS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert await stock_of(session_maker, parties.listing_id) == 98

    changed = await client.post(ORDERS, json=order_body((parties.listing_id, 3)), headers=headers)
    assert changed.status_code == 409
    assert changed.json()["code"] == "order.idempotency_conflict"
    assert await stock_of(session_maker, parties.listing_id) == 98

    missing = await client.post(ORDERS, json=body, headers=parties.buyer)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "Idempotency-Key"

    # The same key sent several times at once still makes one order.
    headers = parties.buyer | key()
    answers = await asyncio.gather(
        *[client.post(ORDERS, json=body, headers=headers) for _ in range(6)]
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await stock_of(session_maker, parties.listing_id) == 96
    # Another unit may use the same key for its own order.
    async with session_maker() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(OrderIdempotencyKey)
                .where(OrderIdempotencyKey.key == headers["Idempotency-Key"])
            )
        ) == 1


async def test_bad_input_reserves_and_writes_nothing(
    client, parties, make_account, session_maker
) -> None:
    other_supplier = await make_account(OrgKind.SUPPLIER)
    foreign = await on_sale(session_maker, other_supplier.user.org_id)
    delisted = await on_sale(session_maker, parties.supplier.user.org_id)
    second = await on_sale(session_maker, parties.supplier.user.org_id, stock=5)
    async with session_maker() as session, session.begin():
        row = await session.get(Listing, uuid.UUID(delisted))
        row.status, row.delisted_at = "delisted", dt.datetime.now(dt.UTC)
    cases = [
        (order_body((parties.listing_id, 0)), 422, "lines[0].quantity"),
        (order_body((parties.listing_id, -2)), 422, "lines[0].quantity"),
        (order_body((parties.listing_id, 1), (second, 6)), 409, "lines[1].quantity"),
        (order_body((parties.listing_id, 101)), 409, "lines[0].quantity"),
        (order_body((delisted, 1)), 422, "lines[0].listing_id"),
        (order_body((str(uuid.uuid4()), 1)), 422, "lines[0].listing_id"),
        (order_body((parties.listing_id, 1), (foreign, 1)), 422, "lines"),
        (order_body((parties.listing_id, 1), budget_code=""), 422, "budget_code"),
        (order_body((parties.listing_id, 1), budget_code="X" * 65), 422, "budget_code"),
        (order_body((parties.listing_id, 1), (parties.listing_id, 2)), 422, "lines[1].listing_id"),
        (order_body(), 422, "lines"),
    ]
    no_budget = order_body((parties.listing_id, 1))
    del no_budget["budget_code"]
    cases.append((no_budget, 422, "budget_code"))
    for body, status, field in cases:
        response = await client.post(ORDERS, json=body, headers=parties.buyer | key())
        assert response.status_code == status, (body, response.text)
        fields = [e["field"] for e in response.json()["errors"]]
        assert any(f == field or f.endswith(field) for f in fields), (field, fields)
    assert await stock_of(session_maker, parties.listing_id) == 100
    assert await stock_of(session_maker, second) == 5
    async with session_maker() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(PurchaseOrder)
                .where(PurchaseOrder.purchaser_org_id == parties.purchaser.user.org_id)
            )
        ) == 0
        assert (
            await session.scalar(
                select(func.count())
                .select_from(OrderIdempotencyKey)
                .where(OrderIdempotencyKey.purchaser_org_id == parties.purchaser.user.org_id)
            )
        ) == 0


async def test_64_buyers_race_for_the_last_10_units(client, parties, session_maker) -> None:
    listing_id = await on_sale(session_maker, parties.supplier.user.org_id, stock=10)
    body = order_body((listing_id, 1))
    answers = await asyncio.gather(
        *[client.post(ORDERS, json=body, headers=parties.buyer | key()) for _ in range(64)]
    )
    codes = [a.status_code for a in answers]
    assert codes.count(201) == 10 and codes.count(409) == 54, codes
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {
        "order.insufficient_stock"
    }
    assert await stock_of(session_maker, listing_id) == 0


async def test_deadlines_across_the_2026_holidays(client, parties, monkeypatch) -> None:
    # Placed on the eve of the National Day week: 1 working day ends with 8 October.
    placed_at = dt.datetime(2026, 9, 30, 10, 0, tzinfo=CST)
    monkeypatch.setattr(order_module, "_now", lambda: placed_at.astimezone(dt.UTC))
    oid = (await place(client, parties))["id"]
    clocks = {
        c["kind"]: c
        for c in (await client.get(f"{ORDERS}/{oid}", headers=parties.buyer)).json()["clocks"]
    }
    assert moment(clocks["order_confirmation"]["due_at"]) == dt.datetime(2026, 10, 9, tzinfo=CST)
    assert moment(clocks["contract"]["due_at"]) == dt.datetime(2026, 10, 21, tzinfo=CST)

    confirmed_at = dt.datetime(2026, 10, 9, 9, 0, tzinfo=CST)
    monkeypatch.setattr(order_module, "_now", lambda: confirmed_at.astimezone(dt.UTC))
    assert (await act(client, parties.seller, oid, "confirm")).status_code == 200
    clocks = {
        c["kind"]: c
        for c in (await client.get(f"{ORDERS}/{oid}", headers=parties.buyer)).json()["clocks"]
    }
    # Confirmed late (9 October), within the contract's 10 days.
    assert clocks["order_confirmation"]["met_at"] > clocks["order_confirmation"]["due_at"]
    assert clocks["contract"]["met_at"] < clocks["contract"]["due_at"]


async def test_acceptance_and_payment_deadlines_around_spring_festival_2026(
    client, parties, monkeypatch
) -> None:
    oid = (await place(client, parties))["id"]
    for action in ("confirm", "ship", "deliver"):
        assert (await act(client, parties.seller, oid, action)).status_code == 200
    for action, who, at in [
        ("request-acceptance", parties.seller, dt.datetime(2026, 2, 11, 15, 0, tzinfo=CST)),
        ("accept", parties.buyer, dt.datetime(2026, 2, 12, 9, 0, tzinfo=CST)),
        ("invoice", parties.seller, dt.datetime(2026, 2, 12, 10, 0, tzinfo=CST)),
        ("receive-invoice", parties.buyer, dt.datetime(2026, 2, 12, 11, 0, tzinfo=CST)),
    ]:
        monkeypatch.setattr(order_module, "_now", lambda at=at: at.astimezone(dt.UTC))
        moved = await act(client, who, oid, action, {"invoice_number": "No.1"})
        assert moved.status_code == 200, moved.text
    clocks = {
        c["kind"]: c
        for c in (await client.get(f"{ORDERS}/{oid}", headers=parties.buyer)).json()["clocks"]
    }
    # 12, 13, 14 February (a make-up Saturday), then 24 to 27 February after
    # the Spring Festival: 7 working days.
    assert moment(clocks["acceptance"]["due_at"]) == dt.datetime(2026, 2, 28, tzinfo=CST)
    # 13 February, 14 February, 24, 25, 26 February: 5 working days.
    assert moment(clocks["payment"]["due_at"]) == dt.datetime(2026, 2, 27, tzinfo=CST)
    assert clocks["payment"]["working_days"] == 5


async def test_lists_filter_by_status_and_date(client, parties) -> None:
    first = await place(client, parties)
    second = await place(client, parties)
    assert (await act(client, parties.seller, second["id"], "confirm")).status_code == 200
    mine = (await client.get(ORDERS, headers=parties.buyer)).json()["items"]
    assert [o["id"] for o in mine] == [second["id"], first["id"]]
    confirmed = (
        await client.get(ORDERS, params={"status": "confirmed"}, headers=parties.seller)
    ).json()["items"]
    assert [o["id"] for o in confirmed] == [second["id"]]
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    assert (await client.get(ORDERS, params={"from": later}, headers=parties.buyer)).json()[
        "items"
    ] == []
    assert (
        len((await client.get(ORDERS, params={"to": later}, headers=parties.buyer)).json()["items"])
        == 2
    )
    bad = await client.get(ORDERS, params={"status": "lost"}, headers=parties.buyer)
    assert bad.status_code in (400, 422)


async def test_every_change_is_audited(client, parties, session_maker) -> None:
    oid = (await place(client, parties))["id"]
    assert (await act(client, parties.seller, oid, "confirm")).status_code == 200
    async with session_maker() as session:
        events = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.subject_type == "order", AuditEvent.subject_id == oid
                )
            )
        ).all()
        clocks = (await session.scalars(select(SlaClock).where(SlaClock.subject_id == oid))).all()
    assert [e.action for e in events] == ["order.placed", "order.confirmed"]
    assert events[1].actor_org_id == parties.supplier.user.org_id
    assert events[1].summary["before"] == {"status": "placed"}
    assert {c.kind for c in clocks if c.met_at} == {"order_confirmation", "contract"}
    assert change_module.CLOCK == "change_request_verification"


# ---------------------------------------------------------------- returns and terminations

QUEUE = "/api/v1/operator/change-requests"


async def change(client, p: Parties, oid: str, **body):
    payload = {
        "type": "termination",
        "reason": "funds_adjusted",
        "explanation": "财政资金调整，项目终止",
    } | body
    return await client.post(f"{ORDERS}/{oid}/change-requests", json=payload, headers=p.buyer)


async def test_partial_return_approved_restores_stock_once(
    client, parties, session_maker, signed_in
) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    other = await on_sale(session_maker, parties.supplier.user.org_id, price="10.50", stock=20)
    response = await client.post(
        ORDERS,
        json=order_body((parties.listing_id, 4), (other, 6)),
        headers=parties.buyer | key(),
    )
    order = response.json()
    oid = order["id"]
    assert order["total_amount"] == "163.00"
    for action in ("confirm", "ship", "deliver"):
        assert (await act(client, parties.seller, oid, action)).status_code == 200
    first = order["lines"][0]

    created = await change(
        client,
        parties,
        oid,
        type="return",
        reason="quality_issue",
        explanation="两包纸受潮",
        scope="lines",
        lines=[{"line_id": first["id"], "quantity": 2}],
        attachments=[{"name": "照片.jpg", "url": "https://files.example.org/p/1.jpg"}],
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "submitted" and body["due_at"]
    cid = body["id"]
    # One open request at a time.
    assert (await change(client, parties, oid)).status_code == 409

    # The supplier comments; the operator sees it in the queue, soonest due first.
    commented = await client.post(
        f"{ORDERS}/{oid}/change-requests/{cid}/comments",
        json={"text": "同意退回受潮的两包"},
        headers=parties.seller,
    )
    assert commented.status_code == 200 and commented.json()["comments"][0]["org_kind"] == (
        "supplier"
    )
    queue = (await client.get(QUEUE, params={"status": "submitted"}, headers=operator)).json()[
        "items"
    ]
    assert cid in [item["id"] for item in queue]
    dues = [item["due_at"] for item in queue]
    assert dues == sorted(dues)

    # Asking for more pauses the clock; the unit's answer starts it again.
    asked = await client.post(
        f"{QUEUE}/{cid}/request-info", json={"message": "请上传检验单"}, headers=operator
    )
    assert asked.status_code == 200 and asked.json()["clock_paused"] is True
    assert (await client.post(f"{QUEUE}/{cid}/approve", headers=operator)).status_code == 409
    answered = await client.post(
        f"{ORDERS}/{oid}/change-requests/{cid}/respond",
        json={"text": "检验单已上传"},
        headers=parties.buyer,
    )
    assert answered.status_code == 200 and answered.json()["status"] == "submitted"
    assert answered.json()["clock_paused"] is False

    # Approval, retried sequentially and concurrently, restores the stock once.
    assert await stock_of(session_maker, parties.listing_id) == 96
    approvals = await asyncio.gather(
        *[client.post(f"{QUEUE}/{cid}/approve", headers=operator) for _ in range(4)]
    )
    assert {a.status_code for a in approvals} == {200}
    again = await client.post(f"{QUEUE}/{cid}/approve", headers=operator)
    assert again.status_code == 200 and again.json()["status"] == "approved"
    assert await stock_of(session_maker, parties.listing_id) == 98
    assert await stock_of(session_maker, other) == 14
    assert again.json()["outcome"]["total_after"] == "113.00"

    detail = (await client.get(f"{ORDERS}/{oid}", headers=parties.buyer)).json()
    assert detail["status"] == "delivered" and detail["total_amount"] == "113.00"
    assert detail["lines"][0]["returned_quantity"] == 2 and detail["lines"][0]["amount"] == "50.00"
    actions = [e["action"] for e in detail["timeline"]]
    assert actions.count("order.return_applied") == 1
    assert actions.count("order_change_request.approved") == 1
    for headers in (parties.buyer, parties.seller):
        notes = (await client.get("/api/v1/notifications/", headers=headers)).json()["items"]
        approved = [n for n in notes if n["kind"] == "order.change_approved"]
        assert approved and all(oid in n["title_zh"] and oid in n["title_en"] for n in approved)
    seen = (
        await client.get(f"{ORDERS}/{oid}/change-requests/{cid}", headers=parties.seller)
    ).json()
    assert seen["status"] == "approved" and seen["attachments"][0]["name"] == "照片.jpg"
    # A decided request cannot be rejected any more.
    late = await client.post(f"{QUEUE}/{cid}/reject", json={"reason": "x"}, headers=operator)
    assert late.status_code == 409


async def test_whole_order_termination_and_rejection(
    client, parties, session_maker, signed_in, make_account, login
) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    oid = (await place(client, parties, quantity=10))["id"]
    assert (await act(client, parties.seller, oid, "confirm")).status_code == 200

    rejected = (await change(client, parties, oid, reason="demand_changed")).json()
    done = await client.post(
        f"{QUEUE}/{rejected['id']}/reject",
        json={"reason": "已开始生产，不予终止"},
        headers=operator,
    )
    assert done.status_code == 200 and done.json()["status"] == "rejected"
    assert await stock_of(session_maker, parties.listing_id) == 90

    # Other organisations do not see the order's requests.
    stranger = await login(await make_account(OrgKind.PURCHASER))
    assert (
        await client.get(f"{ORDERS}/{oid}/change-requests/{rejected['id']}", headers=stranger)
    ).status_code == 404
    assert (await change(client, Parties(None, None, stranger, None, None), oid)).status_code == 404
    # Only purchasing units ask; only operators decide.
    refused = await client.post(
        f"{ORDERS}/{oid}/change-requests",
        json={"type": "return", "reason": "other", "explanation": "x"},
        headers=parties.seller,
    )
    assert refused.status_code == 403
    assert (
        await client.post(f"{QUEUE}/{rejected['id']}/approve", headers=signed_in[OrgKind.REGULATOR])
    ).status_code == 403

    terminated = (await change(client, parties, oid, reason="procurement_method_changed")).json()
    approved = await client.post(f"{QUEUE}/{terminated['id']}/approve", headers=operator)
    assert approved.status_code == 200
    detail = (await client.get(f"{ORDERS}/{oid}", headers=parties.seller)).json()
    assert detail["status"] == "terminated" and detail["total_amount"] == "0.00"
    assert detail["lines"][0]["cancelled_quantity"] == 10
    assert detail["allowed_actions"] == []
    assert await stock_of(session_maker, parties.listing_id) == 100
    assert (await change(client, parties, oid)).status_code == 409


async def test_a_shipped_order_is_returned_not_terminated(
    client, parties, session_maker, signed_in
) -> None:
    """A delivered order's termination is refused when asked (the unit keeps the
    goods, the contract would read 0.00); a return is the way."""
    operator = signed_in[OrgKind.OPERATOR]
    for until in ("ship", "deliver", "accept"):
        oid = (await place(client, parties, quantity=2))["id"]
        for action in ("confirm", "ship", "deliver", "request-acceptance"):
            assert (await act(client, parties.seller, oid, action)).status_code == 200
            if action == until:
                break
        if until == "accept":
            assert (await act(client, parties.buyer, oid, "accept")).status_code == 200
        refused = await change(client, parties, oid)
        assert refused.status_code == 409, refused.text
        problem = refused.json()
        assert problem["code"] == "order.termination_after_shipment"
        assert problem["use_type"] == "return" and "return" in problem["detail"]
        assert problem["current_status"] != "confirmed"
        assert "退回" in problem["title"]
    # A return of the delivered order takes the goods back instead.
    returned = await change(client, parties, oid, type="return", reason="demand_changed")
    assert returned.status_code == 201, returned.text
    approved = await client.post(f"{QUEUE}/{returned.json()['id']}/approve", headers=operator)
    assert approved.status_code == 200 and approved.json()["outcome"]["order_status"] == "returned"


async def test_a_termination_shipped_meanwhile_is_not_approved(
    client, parties, session_maker, signed_in
) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    oid = (await place(client, parties, quantity=4))["id"]
    assert (await act(client, parties.seller, oid, "confirm")).status_code == 200
    cid = (await change(client, parties, oid)).json()["id"]
    # The supplier ships and delivers while the termination waits for the operator.
    for action in ("ship", "deliver"):
        assert (await act(client, parties.seller, oid, action)).status_code == 200
    refused = await client.post(f"{QUEUE}/{cid}/approve", headers=operator)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "order.termination_after_shipment"
    detail = (await client.get(f"{ORDERS}/{oid}", headers=parties.buyer)).json()
    assert detail["status"] == "delivered" and detail["total_amount"] == "100.00"
    assert detail["lines"][0]["cancelled_quantity"] == 0
    assert await stock_of(session_maker, parties.listing_id) == 96
    # The operator rejects it; the unit may then ask for a return.
    rejected = await client.post(
        f"{QUEUE}/{cid}/reject", json={"reason": "已发货，请申请退回"}, headers=operator
    )
    assert rejected.status_code == 200


async def test_change_request_validation(client, parties) -> None:
    oid = (await place(client, parties, quantity=2))["id"]
    line_id = (await client.get(f"{ORDERS}/{oid}", headers=parties.buyer)).json()["lines"][0]["id"]
    for body, field in [
        ({"scope": "lines", "lines": [{"line_id": line_id, "quantity": 3}]}, "lines[0].quantity"),
        (
            {"scope": "lines", "lines": [{"line_id": str(uuid.uuid4()), "quantity": 1}]},
            "lines[0].line_id",
        ),
        ({"reason": "bored"}, "reason"),
        ({"lines": [{"line_id": line_id, "quantity": 1}]}, "lines"),
        ({"scope": "lines"}, "lines"),
        ({"type": "refund"}, "type"),
        ({"explanation": ""}, "explanation"),
    ]:
        response = await change(client, parties, oid, **body)
        assert response.status_code == 422, response.text
        assert any(e["field"].endswith(field) for e in response.json()["errors"]), response.text


async def test_verification_deadline_across_national_day(client, parties, monkeypatch) -> None:
    oid = (await place(client, parties))["id"]
    submitted = dt.datetime(2026, 9, 30, 16, 0, tzinfo=CST)
    monkeypatch.setattr(change_module, "_now", lambda: submitted.astimezone(dt.UTC))
    created = (await change(client, parties, oid)).json()
    assert moment(created["due_at"]) == dt.datetime(2026, 10, 9, tzinfo=CST)


async def test_order_statistics(client, parties, signed_in) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    oid = (await place(client, parties, quantity=2))["id"]
    assert (await act(client, parties.seller, oid, "confirm")).status_code == 200
    cid = (await change(client, parties, oid)).json()["id"]
    assert (await client.post(f"{QUEUE}/{cid}/approve", headers=operator)).status_code == 200

    for headers in (operator, signed_in[OrgKind.REGULATOR]):
        response = await client.get("/api/v1/stats/orders", headers=headers)
        assert response.status_code == 200
    stats = response.json()
    assert stats["orders"] >= 1 and "terminated" in stats["by_status"]
    assert "A090101" in stats["by_category"]
    assert stats["change_requests_by_type"]["termination"] >= 1
    assert stats["change_requests_by_reason"]["funds_adjusted"] >= 1
    assert set(stats["on_time_rate"]) == {
        "verification",
        "confirmation",
        "contract",
        "acceptance",
        "payment",
    }
    assert stats["on_time_rate"]["verification"] is not None
    assert stats["median_verification_working_hours"] is not None
    for headers in (parties.buyer, parties.seller):
        assert (await client.get("/api/v1/stats/orders", headers=headers)).status_code == 403


async def test_racing_approvals_restore_stock_once(
    client, parties, session_maker, make_account
) -> None:
    """One approval holds the order while another, having read the request
    already, waits for it; the second finds the request approved and changes nothing."""
    from mall.auth.service import principal_for_user
    from mall.orders.models import OrderChangeRequest

    oid = (await place(client, parties, quantity=6))["id"]
    cid = uuid.UUID((await change(client, parties, oid)).json()["id"])
    operator = await make_account(OrgKind.OPERATOR)
    async with session_maker() as session:
        principal = await principal_for_user(session, operator.user.id)
    assert await stock_of(session_maker, parties.listing_id) == 94

    async def second() -> str:
        async with session_maker() as session, session.begin():
            assert (await session.get(OrderChangeRequest, cid)).status == "submitted"
            return (await change_module.approve(session, principal, cid)).status

    async with session_maker() as first:
        async with first.begin():
            await change_module.approve(first, principal, cid)
            waiting = asyncio.create_task(second())
            await asyncio.sleep(0.5)
            assert not waiting.done()  # blocked on the order's row lock
        assert await waiting == "approved"
    assert await stock_of(session_maker, parties.listing_id) == 100


async def test_both_sides_cancelling_at_once_restore_stock_once(
    client, parties, session_maker
) -> None:
    oid = (await place(client, parties, quantity=4))["id"]
    answers = await asyncio.gather(
        act(client, parties.buyer, oid, "cancel", {"reason": "预算调整"}),
        act(client, parties.seller, oid, "cancel", {"reason": "缺货"}),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert await stock_of(session_maker, parties.listing_id) == 100


async def test_an_unconfirmed_order_is_escalated(client, parties, session_maker) -> None:
    from mall.sla import service as sla

    oid = (await place(client, parties))["id"]
    async with session_maker() as session, session.begin():
        clock = (
            await session.scalars(
                select(SlaClock).where(
                    SlaClock.subject_id == oid, SlaClock.kind == "order_confirmation"
                )
            )
        ).one()
        # Long overdue, so that the sweep breaches this clock and no other test's.
        clock.due_at = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
        await session.flush()
        await sla.sweep(session, now=clock.due_at + dt.timedelta(seconds=1))
    detail = (await client.get(f"{ORDERS}/{oid}", headers=parties.seller)).json()
    [confirmation] = [c for c in detail["clocks"] if c["kind"] == "order_confirmation"]
    assert confirmation["breached_at"] is not None
    notes = (await client.get("/api/v1/notifications/", headers=parties.seller)).json()["items"]
    assert "sla.breached" in [n["kind"] for n in notes]


async def test_openapi_lists_the_order_paths(client) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in (
        "/api/v1/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/orders/{order_id}/{action}",
        "/api/v1/orders/{order_id}/change-requests",
        "/api/v1/operator/change-requests",
        "/api/v1/operator/change-requests/{request_id}/approve",
        "/api/v1/stats/orders",
    ):
        assert path in paths, path


# ---------------------------------------------------------------- contact details


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("delivery_address", "     "),
        ("contact_name", " \t  "),
        ("contact_phone", "      "),
        ("contact_phone", "abcdefg"),
        ("contact_phone", "12345"),
        ("contact_phone", "1381234567"),
        ("contact_phone", "23812345678"),
        ("contact_phone", "0472-51234"),
        ("contact_phone", "+1 212 555 0100"),
        ("contact_phone", "138-1234-5678-"),
    ],
)
async def test_blank_or_malformed_contact_details_are_refused(
    client, parties, session_maker, field, value
) -> None:
    response = await client.post(
        ORDERS,
        json=order_body((parties.listing_id, 1), **{field: value}),
        headers=parties.buyer | key(),
    )
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await stock_of(session_maker, parties.listing_id) == 100


@pytest.mark.parametrize(
    "phone",
    [
        "13812345678",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "010-62345678",
        "0472-5123456",
        "04725123456",
        "0472-5123456-8001",
        "0472-5123456转8001",
        "+86-10-62345678",
    ],
)
async def test_chinese_mobile_and_landline_numbers_are_accepted(client, parties, phone) -> None:
    order = await place(client, parties, quantity=1, contact_phone=f" {phone} ")
    assert order["contact_phone"] == phone


# ---------------------------------------------------------------- an open change request


async def through(client, p: Parties, oid: str, until: str) -> None:
    """Take a placed order along the happy path (accepted at once) up to and including
    ``until``."""
    sides = {"buyer": p.buyer, "seller": p.seller}
    for action, who, body in HAPPY_PATH[:4] + HAPPY_PATH[6:]:
        moved = await act(client, sides[who], oid, action, body)
        assert moved.status_code == 200, (action, moved.text)
        if action == until:
            return


async def test_an_open_change_request_holds_cancel_pay_and_complete(
    client, parties, session_maker, signed_in
) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    oid = (await place(client, parties))["id"]
    cid = (await change(client, parties, oid)).json()["id"]
    for headers in (parties.buyer, parties.seller):
        held = await act(client, headers, oid, "cancel", {"reason": "不要了"})
        assert held.status_code == 409, held.text
        assert held.json()["code"] == "order.change_request_open"
        assert held.json()["change_request_id"] == cid
    rejected = await client.post(f"{QUEUE}/{cid}/reject", json={"reason": "x"}, headers=operator)
    assert rejected.status_code == 200
    still = await client.get(f"{ORDERS}/{oid}/change-requests/{cid}", headers=parties.buyer)
    assert still.json()["status"] == "rejected"

    await through(client, parties, oid, "receive-invoice")
    cid = (await change(client, parties, oid, type="return", reason="wrong_item")).json()["id"]
    held = await act(client, parties.buyer, oid, "pay", {"payment_reference": "GK-2"})
    assert held.status_code == 409 and held.json()["change_request_id"] == cid
    # An order paid while a request was open (before this rule) cannot be completed either.
    async with session_maker() as session, session.begin():
        (await session.get(PurchaseOrder, uuid.UUID(oid))).status = "paid"
    held = await act(client, parties.seller, oid, "complete")
    assert held.status_code == 409 and held.json()["code"] == "order.change_request_open"
    asked = await client.post(
        f"{QUEUE}/{cid}/request-info", json={"message": "请说明"}, headers=operator
    )
    assert asked.status_code == 200
    held = await act(client, parties.seller, oid, "complete")
    assert held.status_code == 409 and held.json()["change_request_id"] == cid
    assert (
        await client.post(f"{QUEUE}/{cid}/reject", json={"reason": "x"}, headers=operator)
    ).status_code == 200
    assert (await act(client, parties.seller, oid, "complete")).status_code == 200


# ---------------------------------------------------------------- invoices after a change


@pytest.mark.parametrize("invoiced_to", ["invoice", "receive-invoice"])
async def test_a_return_after_invoicing_voids_the_invoice_and_payment_follows_the_total(
    client, parties, session_maker, signed_in, invoiced_to
) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    order = await place(client, parties, quantity=4)
    oid, line_id = order["id"], order["lines"][0]["id"]
    await through(client, parties, oid, invoiced_to)
    cid = (
        await change(
            client,
            parties,
            oid,
            type="return",
            reason="quality_issue",
            explanation="三包纸受潮",
            scope="lines",
            lines=[{"line_id": line_id, "quantity": 3}],
        )
    ).json()["id"]
    approved = await client.post(f"{QUEUE}/{cid}/approve", headers=operator)
    assert approved.status_code == 200, approved.text
    assert approved.json()["outcome"]["order_status"] == "accepted"

    # The invoice was for 100.00; the contract is now 25.00: the supplier issues a new one.
    detail = (await client.get(f"{ORDERS}/{oid}", headers=parties.seller)).json()
    assert detail["status"] == "accepted" and detail["total_amount"] == "25.00"
    assert detail["invoice_number"] is None and detail["invoice_amount"] is None
    assert detail["invoice_issued_on"] is None
    assert detail["allowed_actions"] == ["invoice"]
    voided = [e for e in detail["timeline"] if e["action"] == "order.invoice_voided"]
    assert len(voided) == 1
    assert voided[0]["summary"]["before"]["invoice_amount"] == "100.00"
    notes = (await client.get("/api/v1/notifications/", headers=parties.seller)).json()["items"]
    assert "order.invoice_voided" in [n["kind"] for n in notes]
    assert all(c["met_at"] for c in detail["clocks"])

    # An invoice or a payment for another amount than the order's is refused.
    wrong = await act(
        client,
        parties.seller,
        oid,
        "invoice",
        {"invoice_number": "15002600000012345679", "invoice_amount": "100.00"},
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "invoice_amount"
    invoiced = await act(client, parties.seller, oid, "invoice", {"invoice_number": "No.2"})
    assert invoiced.status_code == 200 and invoiced.json()["invoice_amount"] == "25.00"
    assert (await act(client, parties.buyer, oid, "receive-invoice")).status_code == 200
    for amount in ("100.00", "24.99"):
        wrong = await act(client, parties.buyer, oid, "pay", {"paid_amount": amount})
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "paid_amount"
    paid = await act(client, parties.buyer, oid, "pay", {"payment_reference": "GK-1"})
    assert paid.status_code == 200 and paid.json()["paid_amount"] == "25.00"
    done = await act(client, parties.seller, oid, "complete")
    assert done.status_code == 200
    final = done.json()
    assert (final["total_amount"], final["invoice_amount"], final["paid_amount"]) == (
        "25.00",
        "25.00",
        "25.00",
    )
    payment_clocks = [c for c in final["clocks"] if c["kind"] == "payment"]
    assert len(payment_clocks) == (2 if invoiced_to == "receive-invoice" else 1)
    assert all(c["met_at"] for c in payment_clocks)


async def test_the_invoice_and_the_payment_must_match_the_order(client, parties) -> None:
    oid = (await place(client, parties, quantity=2))["id"]
    await through(client, parties, oid, "accept")
    wrong = await act(
        client, parties.seller, oid, "invoice", {"invoice_number": "No.1", "invoice_amount": "49"}
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "invoice_amount"
    exact = await act(
        client, parties.seller, oid, "invoice", {"invoice_number": "No.1", "invoice_amount": "50"}
    )
    assert exact.status_code == 200 and exact.json()["invoice_amount"] == "50.00"
    assert (await act(client, parties.buyer, oid, "receive-invoice")).status_code == 200
    paid = await act(client, parties.buyer, oid, "pay", {"paid_amount": "50.00"})
    assert paid.status_code == 200 and paid.json()["paid_amount"] == "50.00"


# ---------------------------------------------------------------- a revision awaiting approval


async def pending_revision(session_maker, listing_id: str, stock: int) -> uuid.UUID:
    """The supplier's edit of the listing, submitted for review, declaring ``stock``."""
    async with session_maker() as session, session.begin():
        listing = await session.get(Listing, uuid.UUID(listing_id))
        live = await session.get(ListingRevision, listing.live_revision_id)
        revision = ListingRevision(
            listing_id=listing.id,
            supplier_id=live.supplier_id,
            number=live.number + 1,
            status="submitted",
            category_code=live.category_code,
            brand=live.brand,
            brand_norm=live.brand_norm,
            model=live.model,
            model_norm=live.model_norm,
            title=live.title,
            attributes=live.attributes,
            price=live.price,
            unit=live.unit,
            stock=stock,
        )
        session.add(revision)
        await session.flush()
        listing.current_revision_id = revision.id
        return revision.id


async def revision_stock(session_maker, revision_id: uuid.UUID) -> int:
    async with session_maker() as session:
        return (await session.get(ListingRevision, revision_id)).stock


async def test_cancelling_gives_a_pending_revision_back_only_what_it_gave(
    client, parties, session_maker
) -> None:
    pending = await pending_revision(session_maker, parties.listing_id, stock=2)
    oid = (await place(client, parties, quantity=5))["id"]
    assert await stock_of(session_maker, parties.listing_id) == 95
    assert await revision_stock(session_maker, pending) == 0
    assert (
        await act(client, parties.buyer, oid, "cancel", {"reason": "预算调整"})
    ).status_code == (200)
    assert await stock_of(session_maker, parties.listing_id) == 100
    assert await revision_stock(session_maker, pending) == 2

    # A revision made after the order gave nothing to it and gets nothing back.
    listing_id = await on_sale(session_maker, parties.supplier.user.org_id)
    oid = (
        await client.post(ORDERS, json=order_body((listing_id, 5)), headers=parties.buyer | key())
    ).json()["id"]
    later = await pending_revision(session_maker, listing_id, stock=95)
    assert (await act(client, parties.seller, oid, "cancel", {"reason": "缺货"})).status_code == 200
    assert await stock_of(session_maker, listing_id) == 100
    assert await revision_stock(session_maker, later) == 95


async def test_returns_give_a_pending_revision_back_only_what_it_gave(
    client, parties, session_maker, signed_in
) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    pending = await pending_revision(session_maker, parties.listing_id, stock=2)
    order = await place(client, parties, quantity=5)
    oid, line_id = order["id"], order["lines"][0]["id"]
    assert await revision_stock(session_maker, pending) == 0
    # 3 of the 5 come back: 2 are still sold, and the supplier declared 2, so none is free.
    cid = (
        await change(
            client, parties, oid, scope="lines", lines=[{"line_id": line_id, "quantity": 3}]
        )
    ).json()["id"]
    assert (await client.post(f"{QUEUE}/{cid}/approve", headers=operator)).status_code == 200
    assert await stock_of(session_maker, parties.listing_id) == 98
    assert await revision_stock(session_maker, pending) == 0
    # The other 2: the revision is back at what its supplier declared.
    cid = (await change(client, parties, oid)).json()["id"]
    approved = await client.post(f"{QUEUE}/{cid}/approve", headers=operator)
    assert approved.status_code == 200 and approved.json()["outcome"]["order_status"] == (
        "terminated"
    )
    assert await stock_of(session_maker, parties.listing_id) == 100
    assert await revision_stock(session_maker, pending) == 2
