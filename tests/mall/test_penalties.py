"""Penalties: the catalogue, application and publication, suspension and its
automatic lift, appeals within the window, expulsion and the registration ban,
and the credit score."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from case_support import CASES, application, handle, headers_for, listing_of
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from support import put_on_sale

from catalog.models import Listing
from mall.auth.models import Organisation, OrgKind
from mall.calendar.core import SHANGHAI
from mall.penalties import score
from mall.penalties.jobs import expire_penalties
from mall.penalties.models import Penalty
from mall.suppliers.jobs import lift_expired_suspensions

PENALTIES = "/api/v1/penalties/"
NOW = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], Decimal("100.0")),
        ([(10, 0)], Decimal("90.0")),
        ([(10, 365)], Decimal("90.0")),  # full for a year
        ([(10, 547.5)], Decimal("95.0")),  # half restored halfway through the second year
        ([(10, 730)], Decimal("100.0")),  # restored after two years
        ([(40, 10), (30, 20), (50, 30)], Decimal("0.0")),  # never below zero
        ([(5, 0), (3, 400)], Decimal("92.3")),  # 3 * (730 - 400) / 365 = 2.71
    ],
)
def test_credit_score_formula(items, expected) -> None:
    deductions = [score.Deduction(points, NOW - dt.timedelta(days=days)) for points, days in items]
    assert score.score(deductions, NOW) == expected


def test_credit_grades() -> None:
    assert [score.grade(Decimal(v)) for v in (100, 90, 89.9, 75, 60, 59.9, 0)] == [
        "A",
        "A",
        "B",
        "B",
        "C",
        "D",
        "D",
    ]


async def _penalties_of(session_maker, org_id) -> int:
    async with session_maker() as session:
        return await session.scalar(
            select(func.count()).select_from(Penalty).where(Penalty.supplier_id == org_id)
        )


async def test_catalogue_and_unknown_codes(client, signed_in, make_account, session_maker) -> None:
    catalogue = await client.get(f"{PENALTIES}catalogue", headers=signed_in[OrgKind.SUPPLIER])
    codes = {k["code"]: k for k in catalogue.json()}
    assert codes["PRICE.UNREMEDIED"]["area"] == "price"
    assert codes["AFTER_SALES.NO_SERVICE"]["sanction"] == "suspend"
    assert codes["REGISTRATION.FALSE_INFORMATION"]["ban_years"] == 3
    assert {k["area"] for k in codes.values()} == {
        "registration",
        "listing",
        "contract",
        "after_sales",
        "price",
    }
    public = (await client.get("/api/v1/public/penalties/catalogue")).json()
    assert {k["code"] for k in public} == set(codes)

    supplier = await make_account(OrgKind.SUPPLIER)
    operator = signed_in[OrgKind.OPERATOR]
    unknown = await client.post(
        PENALTIES,
        json={"supplier_id": str(supplier.user.org_id), "code": "NO.SUCH", "reason": "x"},
        headers=operator,
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "penalty.unknown_code"
    not_a_supplier = await client.post(
        PENALTIES,
        json={"supplier_id": str(uuid.uuid4()), "code": "PRICE.REPEATED", "reason": "x"},
        headers=operator,
    )
    assert not_a_supplier.status_code == 404
    by_supplier = await client.post(
        PENALTIES,
        json={
            "supplier_id": str(supplier.user.org_id),
            "code": "PRICE.REPEATED",
            "reason": "x",
        },
        headers=signed_in[OrgKind.SUPPLIER],
    )
    assert by_supplier.status_code == 403
    assert await _penalties_of(session_maker, supplier.user.org_id) == 0


async def test_suspension_is_published_and_lifts_itself(
    client, signed_in, make_account, login, session_maker
) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    org_id = supplier.user.org_id
    headers = await login(supplier)
    operator = signed_in[OrgKind.OPERATOR]
    applied = await client.post(
        PENALTIES,
        json={
            "supplier_id": str(org_id),
            "code": "AFTER_SALES.NO_SERVICE",
            "reason": "三次报修均未响应",
        },
        headers=operator,
    )
    assert applied.status_code == 201, applied.text
    penalty = applied.json()
    assert penalty["sanction"] == "suspend" and penalty["status"] == "in_force"
    assert penalty["appeal_until"] > penalty["imposed_at"]
    ends = dt.datetime.fromisoformat(penalty["ends_at"])
    imposed = dt.datetime.fromisoformat(penalty["imposed_at"])
    assert ends - imposed == dt.timedelta(days=90)
    async with session_maker() as session:
        org = await session.get(Organisation, org_id)
        assert org.status == "suspended" and org.status_until == ends

    # Published: anyone can read it; the supplier sees it in its credit history.
    public = (await client.get("/api/v1/public/penalties")).json()["items"]
    assert penalty["id"] in [p["id"] for p in public]
    history = (await client.get("/api/v1/credit/history", headers=headers)).json()
    assert history["score"] == "80.0" and history["grade"] == "B"
    assert [p["id"] for p in history["penalties"]] == [penalty["id"]]
    notes = (await client.get("/api/v1/notifications/", headers=headers)).json()["items"]
    [note] = [n for n in notes if n["kind"] == "penalty.applied"]
    appeal_last = (
        dt.datetime.fromisoformat(penalty["appeal_until"]).astimezone(SHANGHAI)
        - dt.timedelta(microseconds=1)
    ).date()
    assert f"请于 {appeal_last.isoformat()}（含）前提出" in note["body_zh"]
    assert f"appeal by {appeal_last.isoformat()} (inclusive)" in note["body_en"]
    assert (
        await client.get(f"/api/v1/credit/suppliers/{org_id}", headers=signed_in[OrgKind.REGULATOR])
    ).json()["score"] == "80.0"

    # Time passes: the crons expire the penalty and reinstate the supplier.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    async with session_maker() as session, session.begin():
        await session.execute(
            update(Penalty).where(Penalty.id == uuid.UUID(penalty["id"])).values(ends_at=past)
        )
        await session.execute(
            update(Organisation).where(Organisation.id == org_id).values(status_until=past)
        )
    ctx = {"session_maker": session_maker}
    assert await expire_penalties(ctx) >= 1
    assert await lift_expired_suspensions(ctx) >= 1
    async with session_maker() as session:
        org = await session.get(Organisation, org_id)
        expired = await session.get(Penalty, uuid.UUID(penalty["id"]))
    assert org.status == "active" and org.status_until is None
    assert expired.status == "expired"
    # The points still count until restored; the penalty stays in the public history.
    assert (await client.get("/api/v1/credit/history", headers=headers)).json()["score"] == "80.0"
    in_force = (await client.get("/api/v1/public/penalties")).json()["items"]
    assert penalty["id"] not in [p["id"] for p in in_force]
    everything = (
        await client.get("/api/v1/public/penalties", params={"status": "all", "page_size": 200})
    ).json()["items"]
    assert penalty["id"] in [p["id"] for p in everything]


async def test_an_appeal_within_the_window_revokes_the_penalty(
    client, signed_in, make_account, login, session_maker
) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    headers = await login(supplier)
    operator = signed_in[OrgKind.OPERATOR]
    penalty = (
        await client.post(
            PENALTIES,
            json={
                "supplier_id": str(supplier.user.org_id),
                "code": "CONTRACT.REFUSAL_TO_PERFORM",
                "reason": "拒不履行合同",
            },
            headers=operator,
        )
    ).json()
    appeal = {
        "type": "objection",
        "subject_type": "penalty",
        "subject_id": penalty["id"],
        "claim": "合同系采购人单方解除，附解除通知",
    }
    filed = await client.post(CASES, json=appeal, headers=headers)
    assert filed.status_code == 201, filed.text
    decided = await handle(client, operator, filed.json()["id"], "upheld")
    assert decided["outcome"]["reversal"] == {"penalty_status": "revoked"}
    async with session_maker() as session:
        org = await session.get(Organisation, supplier.user.org_id)
        revoked = await session.get(Penalty, uuid.UUID(penalty["id"]))
    assert org.status == "active" and revoked.status == "revoked"
    history = (await client.get("/api/v1/credit/history", headers=headers)).json()
    assert history["score"] == "100.0"
    profile = (await client.get(f"/api/v1/public/suppliers/{supplier.user.org_id}")).json()
    assert profile["credit_score"] == "100.0"
    assert [s["status"] for s in profile["sanctions"]] == ["revoked"]

    # After the window, an appeal is refused.
    second = (
        await client.post(
            PENALTIES,
            json={
                "supplier_id": str(supplier.user.org_id),
                "code": "CONTRACT.LATE_DELIVERY",
                "reason": "逾期交货",
            },
            headers=operator,
        )
    ).json()
    async with session_maker() as session, session.begin():
        await session.execute(
            update(Penalty)
            .where(Penalty.id == uuid.UUID(second["id"]))
            .values(appeal_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    late = await client.post(CASES, json=appeal | {"subject_id": second["id"]}, headers=headers)
    assert late.status_code == 409 and late.json()["code"] == "case.appeal_window_closed"
    # Another supplier cannot appeal someone else's penalty.
    other = await client.post(
        CASES, json=appeal | {"subject_id": second["id"]}, headers=signed_in[OrgKind.SUPPLIER]
    )
    assert other.status_code == 403


async def test_expulsion_delists_everything_and_bans_the_credit_code(
    client, signed_in, session_maker, settings
) -> None:
    body = application()
    app_id = (await client.post("/api/v1/suppliers/applications", json=body)).json()["id"]
    operator = signed_in[OrgKind.OPERATOR]
    await client.post(
        f"/api/v1/operator/supplier-applications/{app_id}/approve", json={}, headers=operator
    )
    headers = await headers_for(client, body["admin_email"], body["admin_password"])
    listing = await listing_of(client, session_maker, settings, headers)
    await put_on_sale(session_maker, listing["id"])
    org_id = (await client.get("/api/v1/suppliers/application", headers=headers)).json()["org_id"]

    applied = await client.post(
        PENALTIES,
        json={
            "supplier_id": org_id,
            "code": "REGISTRATION.FALSE_INFORMATION",
            "reason": "营业执照系伪造",
        },
        headers=operator,
    )
    assert applied.status_code == 201, applied.text
    assert applied.json()["listings_delisted"] == 1
    ends = dt.datetime.fromisoformat(applied.json()["ends_at"])
    assert ends.year == dt.datetime.fromisoformat(applied.json()["imposed_at"]).year + 3
    async with session_maker() as session:
        org = await session.get(Organisation, uuid.UUID(org_id))
        row = await session.get(Listing, uuid.UUID(listing["id"]))
    assert org.status == "expelled" and org.status_until == ends
    assert row.status == "delisted" and row.delisted_at is not None

    again = await client.post(
        "/api/v1/suppliers/applications",
        json=application(uscc=body["uscc"]),
    )
    assert again.status_code == 409 and again.json()["code"] == "supplier.banned"
    profile = (await client.get(f"/api/v1/public/suppliers/{org_id}")).json()
    assert profile["standing"] == "expelled" and profile["credit_score"] == "60.0"
    assert profile["sanctions"][0]["code"] == "REGISTRATION.FALSE_INFORMATION"
    listings = (await client.get("/api/v1/public/listings", params={"supplier_id": org_id})).json()[
        "items"
    ]
    assert listings == []


async def test_an_upheld_report_applies_a_penalty(client, signed_in, make_account) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    operator = signed_in[OrgKind.OPERATOR]
    filed = await client.post(
        CASES,
        json={
            "type": "report",
            "subject_type": "supplier",
            "subject_id": str(supplier.user.org_id),
            "claim": "销售假冒硒鼓",
        },
        headers=signed_in[OrgKind.PURCHASER],
    )
    bad = await client.post(
        f"{CASES}{filed.json()['id']}/decide",
        json={"outcome": "dismissed", "note": "x", "penalty_code": "LISTING.FAKE_PRODUCT"},
        headers=operator,
    )
    assert bad.status_code == 422 and bad.json()["code"] == "case.penalty_not_allowed"
    decided = await handle(
        client, operator, filed.json()["id"], "upheld", penalty_code="LISTING.FAKE_PRODUCT"
    )
    penalty = (
        await client.get(f"{PENALTIES}{decided['outcome']['penalty_id']}", headers=operator)
    ).json()
    assert penalty["case_id"] == filed.json()["id"] and penalty["sanction"] == "suspend"
    assert penalty["source"] == "operator"


async def test_the_decision_note_is_never_published_with_the_penalty(
    client, signed_in, make_account, login
) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    org_id = str(supplier.user.org_id)
    operator = signed_in[OrgKind.OPERATOR]
    phone = "13912345678"
    note = f"举报人王某（电话 {phone}）提供的发票证实售假"

    async def report() -> str:
        filed = await client.post(
            CASES,
            json={
                "type": "report",
                "subject_type": "supplier",
                "subject_id": org_id,
                "claim": "销售假冒硒鼓",
            },
            headers=signed_in[OrgKind.PURCHASER],
        )
        assert filed.status_code == 201, filed.text
        for step in ("accept", "investigate"):
            moved = await client.post(
                f"{CASES}{filed.json()['id']}/{step}", json={}, headers=operator
            )
            assert moved.status_code == 200, moved.text
        return filed.json()["id"]

    case_id = await report()
    # A public reason goes with a penalty only, and is bounded.
    for body, code in (
        ({"public_reason": "售假"}, "case.public_reason_without_penalty"),
        (
            {"penalty_code": "LISTING.FAKE_PRODUCT", "public_reason": "假" * 501},
            "request.validation_failed",
        ),
    ):
        refused = await client.post(
            f"{CASES}{case_id}/decide",
            json={"outcome": "upheld", "note": note, **body},
            headers=operator,
        )
        assert refused.status_code in (400, 422), refused.text
        assert refused.json()["code"] == code
    decided = await client.post(
        f"{CASES}{case_id}/decide",
        json={"outcome": "upheld", "note": note, "penalty_code": "LISTING.FAKE_PRODUCT"},
        headers=operator,
    )
    assert decided.status_code == 200, decided.text
    penalty_id = decided.json()["outcome"]["penalty_id"]

    public = (await client.get("/api/v1/public/penalties", params={"page_size": 200})).json()[
        "items"
    ]
    published = next(p for p in public if p["id"] == penalty_id)
    assert published["reason"].startswith("经查实：发布假冒伪劣商品（举报）")
    assert "Listing fake or shoddy products (report)" in published["reason"]
    profile = (await client.get(f"/api/v1/public/suppliers/{org_id}")).json()
    assert [p["reason"] for p in profile["sanctions"]] == [published["reason"]]
    headers = await login(supplier)
    notices = (await client.get("/api/v1/notifications/", headers=headers)).json()["items"]
    notice = [n for n in notices if n["kind"] == "penalty.applied"]
    assert len(notice) == 1 and "经查实" in notice[0]["body_zh"]
    for text in (str(public), str(profile), str(notice)):
        assert phone not in text and "王某" not in text

    # The operator may word the public reason; the note still stays out of it.
    worded = await client.post(
        f"{CASES}{await report()}/decide",
        json={
            "outcome": "upheld",
            "note": note,
            "penalty_code": "LISTING.FAKE_PRODUCT",
            "public_reason": "经查实销售假冒品牌硒鼓",
        },
        headers=operator,
    )
    assert worded.status_code == 200, worded.text
    reason = (
        await client.get(f"{PENALTIES}{worded.json()['outcome']['penalty_id']}", headers=operator)
    ).json()["reason"]
    assert reason == "经查实销售假冒品牌硒鼓"


async def test_a_penalty_names_only_an_upheld_case_against_its_supplier_once(
    client, signed_in, make_account, session_maker
) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    other = await make_account(OrgKind.SUPPLIER)
    org_id = str(supplier.user.org_id)
    operator = signed_in[OrgKind.OPERATOR]
    filed = await client.post(
        CASES,
        json={
            "type": "report",
            "subject_type": "supplier",
            "subject_id": org_id,
            "claim": "商品描述与实物不符",
        },
        headers=signed_in[OrgKind.PURCHASER],
    )
    case_id = filed.json()["id"]

    def penalty(code: str, case: str = case_id, supplier_id: str = org_id) -> dict:
        return {"supplier_id": supplier_id, "code": code, "reason": "经查实", "case_id": case}

    refusals = [
        (penalty("LISTING.FALSE_DESCRIPTION", str(uuid.uuid4())), 404, "case.not_found"),
        (penalty("LISTING.FALSE_DESCRIPTION"), 422, "penalty.case_not_upheld"),
        (
            penalty("LISTING.FALSE_DESCRIPTION", supplier_id=str(other.user.org_id)),
            422,
            "penalty.case_mismatch",
        ),
    ]
    for body, status, code in refusals:
        refused = await client.post(PENALTIES, json=body, headers=operator)
        assert refused.status_code == status, refused.text
        assert refused.json()["code"] == code
        assert refused.json()["errors"][0]["field"] == "case_id"

    # Upheld with a penalty: the same penalty for the same case is refused, another is not.
    await handle(client, operator, case_id, "upheld", penalty_code="LISTING.FALSE_DESCRIPTION")
    twice = await client.post(
        PENALTIES, json=penalty("LISTING.FALSE_DESCRIPTION"), headers=operator
    )
    assert twice.status_code == 409 and twice.json()["code"] == "penalty.already_applied"
    closed = await client.post(f"{CASES}{case_id}/close", json={}, headers=operator)
    assert closed.status_code == 200, closed.text
    another = await client.post(PENALTIES, json=penalty("PRICE.REPEATED"), headers=operator)
    assert another.status_code == 201, another.text
    assert another.json()["case_id"] == case_id
    async with session_maker() as session:
        codes = (
            await session.scalars(select(Penalty.code).where(Penalty.case_id == uuid.UUID(case_id)))
        ).all()
    assert sorted(codes) == ["LISTING.FALSE_DESCRIPTION", "PRICE.REPEATED"]
    # The index holds even if the check is passed by two requests at once.
    async with session_maker() as session:
        first = await session.scalar(select(Penalty).where(Penalty.case_id == uuid.UUID(case_id)))
        session.add(
            Penalty(
                supplier_id=first.supplier_id,
                code=first.code,
                source="operator",
                points=first.points,
                sanction=first.sanction,
                case_id=first.case_id,
                reason="x",
                imposed_at=first.imposed_at,
                appeal_until=first.appeal_until,
            )
        )
        with pytest.raises(IntegrityError, match="uq_penalty_case_code"):
            await session.flush()
