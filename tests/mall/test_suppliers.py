"""Supplier onboarding: apply → verify → active; credit lists; documents; standing."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from sqlalchemy import func, select

from mall.audit.models import AuditEvent
from mall.auth.models import Organisation, OrgKind, User, supplier_category
from mall.calendar.core import SHANGHAI
from mall.notifications.models import Notification
from mall.sla.models import SlaClock
from mall.suppliers import commitment
from mall.suppliers.jobs import recheck_suppliers_against_credit_lists
from mall.suppliers.models import CommitmentAcceptance, OperatorCase, SupplierDocument
from mall.suppliers.uscc import ALPHABET, check_character

APPLY = "/api/v1/suppliers/applications"
QUEUE = "/api/v1/operator/supplier-applications"


def new_uscc(region: str = "150203") -> str:
    body = "92" + region + "".join(random.choice(ALPHABET[:10]) for _ in range(9))
    return body + check_character(body)


def application(**overrides) -> dict:
    suffix = uuid.uuid4().hex[:8]
    body = {
        "company_name": f"包头市测试办公用品有限公司{suffix}",
        "uscc": new_uscc(),
        "region_code": "150203",
        "business_type": "enterprise",
        "legal_representative": "张三",
        "contact_name": "李四",
        "contact_mobile": "13800471234",
        "categories": ["A02010104", "A05040101"],
        "admin_email": f"admin-{suffix}@supplier.example.com",
        "admin_password": "Supplier#2026",
        "commitment_accepted": True,
        "commitment_version": commitment.CURRENT_VERSION,
    }
    body.update(overrides)
    return body


async def supplier_headers(client, body: dict) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": body["admin_email"], "password": body["admin_password"]},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_commitment_letter_is_public(client) -> None:
    body = (await client.get("/api/v1/suppliers/commitment")).json()
    assert body["version"] == commitment.CURRENT_VERSION
    assert "承诺" in body["text"] and "不收取任何费用" in body["text"]


async def test_apply_verify_activate(client, signed_in, session_maker) -> None:
    body = application()
    created = await client.post(APPLY, json=body)
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    assert created.json()["status"] == "submitted"
    assert created.json()["due_at"].endswith("T00:00:00+08:00")  # the end of a working day
    # Joining costs nothing: no field of the answer speaks of a fee (ids may hold "fee" as hex).
    assert not any("fee" in key.lower() for key in created.json())

    headers = await supplier_headers(client, body)
    own = (await client.get("/api/v1/suppliers/application", headers=headers)).json()
    assert own["id"] == app_id and own["in_region"] is True and own["status"] == "submitted"

    operator = signed_in[OrgKind.OPERATOR]
    queue = (
        await client.get(QUEUE, params={"status": "submitted", "page_size": 500}, headers=operator)
    ).json()["items"]
    assert app_id in [a["id"] for a in queue]
    dues = [a["due_at"] for a in queue]
    assert dues == sorted(dues)

    asked = await client.post(
        f"{QUEUE}/{app_id}/request-info",
        json={"message": "请补充法定代表人身份证明"},
        headers=operator,
    )
    assert asked.status_code == 200 and asked.json()["clock_paused"] is True
    again = await client.post(f"{QUEUE}/{app_id}/approve", json={}, headers=operator)
    assert again.status_code == 409 and again.json()["allowed"] == ["submitted"]

    answered = await client.post(
        "/api/v1/suppliers/application/resubmit",
        json={"note": "已补充", "contact_mobile": "13900472222"},
        headers=headers,
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "submitted" and answered.json()["clock_paused"] is False
    assert answered.json()["contact_mobile"] == "13900472222"

    narrowed = await client.post(
        f"{QUEUE}/{app_id}/approve", json={"categories": ["A99"]}, headers=operator
    )
    assert narrowed.status_code == 422 and narrowed.json()["errors"][0]["field"] == "categories"
    approved = await client.post(
        f"{QUEUE}/{app_id}/approve", json={"categories": ["A02010104"]}, headers=operator
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["granted_categories"] == [
        "A02010104"
    ]

    async with session_maker() as session:
        org = await session.get(Organisation, uuid.UUID(own["org_id"]))
        codes = (
            await session.scalars(
                select(supplier_category.c.category_code).where(
                    supplier_category.c.org_id == org.id
                )
            )
        ).all()
        clock = (await session.scalars(select(SlaClock).where(SlaClock.subject_id == app_id))).one()
        acceptance = (
            await session.scalars(
                select(CommitmentAcceptance).where(CommitmentAcceptance.org_id == org.id)
            )
        ).one()
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_id == app_id)
                .order_by(AuditEvent.id)
            )
        ).all()
    assert (
        org.status == "active" and org.verification_channel == "online" and codes == ["A02010104"]
    )
    assert clock.met_at is not None and clock.paused_working_days >= 0
    assert acceptance.text_sha256 == commitment.text_sha256(commitment.CURRENT_VERSION)
    assert acceptance.signer_name == "张三" and acceptance.client_address
    assert actions == [
        "supplier_application.submitted",
        "sla.paused",
        "supplier_application.info_requested",
        "sla.resumed",
        "supplier_application.resubmitted",
        "supplier_application.approved",
    ]
    notes = (await client.get("/api/v1/notifications/", headers=headers)).json()["items"]
    assert "supplier_application.approved" in [n["kind"] for n in notes]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"uscc": "91440300708461136A"}, "uscc"),  # wrong check character
        ({"uscc": "9144030070846113IT"}, "uscc"),  # forbidden letter
        ({"uscc": "9144030070846113"}, "uscc"),  # too short
        ({"region_code": "15A203"}, "region_code"),
        ({"contact_mobile": "0471-1234567"}, "contact_mobile"),
        ({"categories": []}, "categories"),
        ({"categories": ["desktop"]}, "categories[0]"),
        ({"commitment_accepted": False}, "commitment_accepted"),
        ({"commitment_version": "2019.1"}, "commitment_version"),
        ({"admin_password": "short"}, "admin_password"),
        ({"business_type": "state_owned"}, "business_type"),
    ],
)
async def test_bad_applications_are_refused_and_leave_nothing(
    client, session_maker, overrides, field
) -> None:
    body = application(**overrides)
    response = await client.post(APPLY, json=body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    async with session_maker() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(User).where(User.email == body["admin_email"])
            )
            == 0
        )
        assert (
            await session.scalar(
                select(func.count())
                .select_from(Organisation)
                .where(Organisation.name == body["company_name"])
            )
            == 0
        )


async def test_duplicates_are_conflicts(client) -> None:
    body = application()
    assert (await client.post(APPLY, json=body)).status_code == 201
    same_code = await client.post(APPLY, json=application(uscc=body["uscc"]))
    assert same_code.status_code == 409 and same_code.json()["code"] == "supplier.uscc_taken"
    same_email = await client.post(APPLY, json=application(admin_email=body["admin_email"]))
    assert same_email.status_code == 409 and same_email.json()["code"] == "user.email_taken"


async def test_outside_the_region_and_individual_business(client, signed_in) -> None:
    body = application(
        region_code="110108", uscc=new_uscc("110108"), business_type="individual_business"
    )
    created = (await client.post(APPLY, json=body)).json()
    detail = (
        await client.get(f"{QUEUE}/{created['id']}", headers=signed_in[OrgKind.REGULATOR])
    ).json()
    assert detail["in_region"] is False and detail["business_type"] == "individual_business"


def credit_csv(*rows: tuple[str, ...]) -> bytes:
    lines = ["uscc,name,list_type,source,listed_on,expires_on"] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


async def test_credit_list_rejects_at_registration(client, signed_in) -> None:
    listed = new_uscc()
    csv = credit_csv(
        (
            listed,
            "失信测试公司",
            "dishonest_judgment_debtor",
            "最高人民法院失信被执行人名单",
            "2026-01-05",
            "",
        ),
        ("123", "bad row", "dishonest_judgment_debtor", "x", "2026-01-05", ""),
        (new_uscc(), "bad type", "not_a_list", "x", "2026-01-05", ""),
    )
    denied = await client.post(
        "/api/v1/credit/lists/import",
        content=csv,
        headers={**signed_in[OrgKind.SUPPLIER], "content-type": "text/csv"},
    )
    assert denied.status_code == 403
    result = await client.post(
        "/api/v1/credit/lists/import",
        content=csv,
        headers={**signed_in[OrgKind.OPERATOR], "content-type": "text/csv"},
    )
    assert result.status_code == 200, result.text
    assert result.json()["imported"] == 1
    assert [r["line"] for r in result.json()["rejected"]] == [3, 4]

    created = await client.post(APPLY, json=application(uscc=listed))
    assert created.status_code == 201
    assert created.json()["status"] == "rejected"
    rejection = created.json()["rejection"]
    assert rejection["codes"] == ["CREDIT_LIST"]
    assert rejection["credit_hit"]["list_type"] == "dishonest_judgment_debtor"
    assert rejection["credit_hit"]["source"] == "最高人民法院失信被执行人名单"


async def test_a_listed_applicant_cannot_be_approved(client, signed_in, session_maker) -> None:
    body = application()
    created = (await client.post(APPLY, json=body)).json()
    operator = signed_in[OrgKind.OPERATOR]
    csv = credit_csv(
        (
            body["uscc"],
            body["company_name"],
            "gov_procurement_serious_violation",
            "中国政府采购网",
            "2026-10-01",
            "",
        )
    )
    await client.post(
        "/api/v1/credit/lists/import", content=csv, headers={**operator, "content-type": "text/csv"}
    )
    refused = await client.post(f"{QUEUE}/{created['id']}/approve", json={}, headers=operator)
    assert refused.status_code == 409
    assert refused.json()["code"] == "supplier.credit_list_hit"
    assert refused.json()["credit_hit"]["list_type"] == "gov_procurement_serious_violation"
    rejected = await client.post(
        f"{QUEUE}/{created['id']}/reject",
        json={"reason_codes": ["CREDIT_LIST"], "reason": "列入严重违法失信名单"},
        headers=operator,
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    async with session_maker() as session:
        note = (
            await session.scalars(
                select(Notification).where(
                    Notification.kind == "supplier_application.rejected",
                    Notification.subject_id == created["id"],
                )
            )
        ).one()
    assert note.body_zh.startswith("列入失信名单；") and "CREDIT_LIST" not in note.body_en
    assert note.body_en.startswith("on a list of dishonest parties")


async def test_list_update_suspends_an_active_supplier(client, signed_in, session_maker) -> None:
    body = application()
    created = (await client.post(APPLY, json=body)).json()
    operator = signed_in[OrgKind.OPERATOR]
    assert (
        await client.post(f"{QUEUE}/{created['id']}/approve", json={}, headers=operator)
    ).status_code == 200
    csv = credit_csv(
        (
            body["uscc"],
            body["company_name"],
            "major_tax_violation",
            "国家税务总局",
            "2026-11-01",
            "2029-11-01",
        )
    )
    assert (
        await client.post(
            "/api/v1/credit/lists/import",
            content=csv,
            headers={**operator, "content-type": "text/csv"},
        )
    ).status_code == 200
    suspended = await recheck_suppliers_against_credit_lists({"session_maker": session_maker})
    assert suspended >= 1
    async with session_maker() as session:
        org = (
            await session.scalars(select(Organisation).where(Organisation.uscc == body["uscc"]))
        ).one()
        cases = (
            await session.scalars(
                select(OperatorCase).where(OperatorCase.subject_id == str(org.id))
            )
        ).all()
        actions = (
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.subject_id == str(org.id))
            )
        ).all()
    assert org.status == "suspended" and "重大税收违法失信主体名单" in org.status_reason
    assert [c.case_type for c in cases] == ["credit_list_hit"]
    assert "supplier.suspended" in actions
    # Re-running the check does not open a second case.
    await recheck_suppliers_against_credit_lists({"session_maker": session_maker})
    async with session_maker() as session:
        assert (
            len(
                (
                    await session.scalars(
                        select(OperatorCase).where(OperatorCase.subject_id == str(org.id))
                    )
                ).all()
            )
            == 1
        )


async def test_suppliers_see_only_their_own(client, signed_in) -> None:
    first, second = application(), application()
    first_id = (await client.post(APPLY, json=first)).json()["id"]
    await client.post(APPLY, json=second)
    second_headers = await supplier_headers(client, second)
    own = (await client.get("/api/v1/suppliers/application", headers=second_headers)).json()
    assert own["id"] != first_id
    for path in (QUEUE, f"{QUEUE}/{first_id}"):
        assert (await client.get(path, headers=second_headers)).status_code == 403
    assert (
        await client.post(f"{QUEUE}/{first_id}/approve", json={}, headers=second_headers)
    ).status_code == 403
    assert (
        await client.post(
            f"{QUEUE}/{first_id}/approve", json={}, headers=signed_in[OrgKind.REGULATOR]
        )
    ).status_code == 403
    assert (
        await client.get("/api/v1/suppliers/application", headers=signed_in[OrgKind.PURCHASER])
    ).status_code == 403


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_documents(client) -> None:
    body = application()
    await client.post(APPLY, json=body)
    headers = await supplier_headers(client, body)
    later = (dt.date.today() + dt.timedelta(days=300)).isoformat()
    soon = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    up = await client.post(
        "/api/v1/suppliers/documents",
        headers=headers,
        data={"kind": "business_licence", "valid_until": later},
        files={"file": ("licence.pdf", PDF, "application/pdf")},
    )
    assert up.status_code == 201, up.text
    assert up.json()["media_type"] == "application/pdf"
    png = await client.post(
        "/api/v1/suppliers/documents",
        headers=headers,
        data={"kind": "tax_payment_proof", "valid_until": soon},
        files={"file": ("proof.pdf", PNG, "application/pdf")},
    )
    assert (
        png.status_code == 201 and png.json()["media_type"] == "image/png"
    )  # by content, not by name
    fake = await client.post(
        "/api/v1/suppliers/documents",
        headers=headers,
        data={"kind": "financial_report", "valid_until": later},
        files={"file": ("report.pdf", b"just text", "application/pdf")},
    )
    assert fake.status_code == 422 and fake.json()["errors"][0]["field"] == "file"
    expired = await client.post(
        "/api/v1/suppliers/documents",
        headers=headers,
        data={"kind": "financial_report", "valid_until": "2020-01-01"},
        files={"file": ("r.pdf", PDF, "application/pdf")},
    )
    assert expired.status_code == 422 and expired.json()["errors"][0]["field"] == "valid_until"

    listed = (await client.get("/api/v1/suppliers/documents", headers=headers)).json()
    assert {d["kind"] for d in listed["documents"]} == {"business_licence", "tax_payment_proof"}
    assert listed["expiring_soon"] == ["tax_payment_proof"]
    assert set(listed["blocking"]) == {"financial_report", "social_security_proof"}

    content = await client.get(
        f"/api/v1/suppliers/documents/{up.json()['id']}/content", headers=headers
    )
    assert content.status_code == 200 and content.content == PDF
    other = application()
    await client.post(APPLY, json=other)
    stranger = await supplier_headers(client, other)
    assert (
        await client.get(f"/api/v1/suppliers/documents/{up.json()['id']}/content", headers=stranger)
    ).status_code == 404


async def test_operators_and_regulators_verify_the_documents(
    client, signed_in, make_account, login
) -> None:
    body = application()
    created = (await client.post(APPLY, json=body)).json()
    headers = await supplier_headers(client, body)
    later = (dt.date.today() + dt.timedelta(days=300)).isoformat()
    issued = (dt.date.today() - dt.timedelta(days=40)).isoformat()
    licence = await client.post(
        "/api/v1/suppliers/documents",
        headers=headers,
        data={"kind": "business_licence", "valid_until": later, "valid_from": issued},
        files={"file": ("营业执照 2026.pdf", PDF, "application/pdf")},
    )
    assert licence.status_code == 201, licence.text
    assert licence.json()["valid_from"] == issued and licence.json()["expired"] is False
    proof = await client.post(
        "/api/v1/suppliers/documents",
        headers=headers,
        data={"kind": "tax_payment_proof", "valid_until": later},
        files={"file": ("proof.png", PNG, "image/png")},
    )
    assert proof.json()["valid_from"] == dt.datetime.now(SHANGHAI).date().isoformat()
    future = await client.post(
        "/api/v1/suppliers/documents",
        headers=headers,
        data={
            "kind": "financial_report",
            "valid_until": later,
            "valid_from": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
        },
        files={"file": ("r.pdf", PDF, "application/pdf")},
    )
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "valid_from"
    org_id = await client.get(f"{QUEUE}/{created['id']}", headers=signed_in[OrgKind.OPERATOR])
    org_id = org_id.json()["org_id"]
    documents_path = f"/api/v1/operator/suppliers/{org_id}/documents"
    content_path = f"{documents_path}/{licence.json()['id']}/content"

    for kind in (OrgKind.OPERATOR, OrgKind.REGULATOR):
        viewer = signed_in[kind]
        listed = await client.get(documents_path, headers=viewer)
        assert listed.status_code == 200, listed.text
        found = {d["kind"]: d for d in listed.json()["documents"]}
        assert set(found) == {"business_licence", "tax_payment_proof"}
        assert found["business_licence"]["valid_from"] == issued
        assert found["business_licence"]["valid_until"] == later
        assert found["business_licence"]["expired"] is False
        assert found["business_licence"]["kind_name_zh"] == "营业执照"
        assert set(listed.json()["blocking"]) == {"financial_report", "social_security_proof"}
        downloaded = await client.get(content_path, headers=viewer)
        assert downloaded.status_code == 200 and downloaded.content == PDF
        assert downloaded.headers["content-type"] == "application/pdf"
        disposition = downloaded.headers["content-disposition"]
        assert (
            disposition.startswith("attachment;") and 'filename="business_licence-' in disposition
        )
        assert "filename*=UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7%202026.pdf" in disposition
        png = await client.get(f"{documents_path}/{proof.json()['id']}/content", headers=viewer)
        assert png.headers["content-type"] == "image/png"
        # The application's detail lists the same documents with their validity.
        detail = (await client.get(f"{QUEUE}/{created['id']}", headers=viewer)).json()
        assert {d["kind"] for d in detail["documents"]["documents"]} == set(found)
        assert detail["documents"]["documents"][0]["valid_until"] == later

    # Suppliers and purchasers are refused; another supplier's document, or an
    # organisation that is not a supplier, answers 404.
    other = application()
    await client.post(APPLY, json=other)
    stranger = await supplier_headers(client, other)
    purchaser = signed_in[OrgKind.PURCHASER]
    for path in (documents_path, content_path):
        assert (await client.get(path, headers=headers)).status_code == 403
        assert (await client.get(path, headers=stranger)).status_code == 403
        assert (await client.get(path, headers=purchaser)).status_code == 403
    operator = signed_in[OrgKind.OPERATOR]
    stranger_org = (await client.get("/api/v1/suppliers/application", headers=stranger)).json()[
        "org_id"
    ]
    crossed = f"/api/v1/operator/suppliers/{stranger_org}/documents/{licence.json()['id']}/content"
    missing = await client.get(crossed, headers=operator)
    assert missing.status_code == 404 and missing.json()["code"] == "supplier.document_not_found"
    buyer_org = (await make_account(OrgKind.PURCHASER)).user.org_id
    not_supplier = await client.get(
        f"/api/v1/operator/suppliers/{buyer_org}/documents", headers=operator
    )
    assert not_supplier.status_code == 404 and not_supplier.json()["code"] == "supplier.not_found"
    unknown = await client.get(
        f"/api/v1/operator/suppliers/{uuid.uuid4()}/documents", headers=operator
    )
    assert unknown.status_code == 404


async def test_an_expired_document_is_listed_as_expired(client, signed_in, session_maker) -> None:
    body = application()
    created = (await client.post(APPLY, json=body)).json()
    headers = await supplier_headers(client, body)
    up = await client.post(
        "/api/v1/suppliers/documents",
        headers=headers,
        data={"kind": "social_security_proof", "valid_until": "2030-01-01"},
        files={"file": ("s.pdf", PDF, "application/pdf")},
    )
    async with session_maker() as session, session.begin():
        document = await session.get(SupplierDocument, uuid.UUID(up.json()["id"]))
        document.valid_from, document.valid_until = dt.date(2024, 1, 1), dt.date(2025, 1, 1)
    detail = (
        await client.get(f"{QUEUE}/{created['id']}", headers=signed_in[OrgKind.OPERATOR])
    ).json()
    (listed,) = detail["documents"]["documents"]
    assert listed["expired"] is True and listed["valid_until"] == "2025-01-01"
    assert "social_security_proof" in detail["documents"]["blocking"]


async def test_oversize_document(client, settings) -> None:
    body = application()
    await client.post(APPLY, json=body)
    headers = await supplier_headers(client, body)
    big = PDF + b"0" * settings.mall.document_max_bytes
    response = await client.post(
        "/api/v1/suppliers/documents",
        headers=headers,
        data={"kind": "financial_report", "valid_until": "2030-01-01"},
        files={"file": ("big.pdf", big, "application/pdf")},
    )
    assert response.status_code in (413, 422)


async def test_withdrawal_and_standing(client, signed_in, session_maker) -> None:
    body = application()
    created = (await client.post(APPLY, json=body)).json()
    operator = signed_in[OrgKind.OPERATOR]
    org_id = (
        await client.post(f"{QUEUE}/{created['id']}/approve", json={}, headers=operator)
    ).json()["org_id"]
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    suspended = await client.post(
        f"/api/v1/operator/suppliers/{org_id}/suspend",
        json={"reason": "价格违规未整改", "until": until},
        headers=operator,
    )
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    reinstated = await client.post(
        f"/api/v1/operator/suppliers/{org_id}/reinstate",
        json={"reason": "已整改"},
        headers=operator,
    )
    assert reinstated.json()["status"] == "active"
    headers = await supplier_headers(client, body)
    left = await client.post(
        "/api/v1/suppliers/withdraw", json={"reason": "经营调整"}, headers=headers
    )
    assert left.status_code == 200 and left.json()["status"] == "withdrawn"
    again = await client.post(
        "/api/v1/suppliers/withdraw", json={"reason": "again"}, headers=headers
    )
    assert again.status_code == 409
    async with session_maker() as session:
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_id == org_id)
                .order_by(AuditEvent.id)
            )
        ).all()
    assert actions[-3:] == ["supplier.suspended", "supplier.reinstated", "supplier.withdrawn"]


async def test_expelled_code_cannot_register_again(client, signed_in) -> None:
    body = application()
    created = (await client.post(APPLY, json=body)).json()
    operator = signed_in[OrgKind.OPERATOR]
    org_id = (
        await client.post(f"{QUEUE}/{created['id']}/approve", json={}, headers=operator)
    ).json()["org_id"]
    missing_until = await client.post(
        f"/api/v1/operator/suppliers/{org_id}/expel",
        json={"reason": "提供虚假材料"},
        headers=operator,
    )
    assert missing_until.status_code == 422
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3 * 365)).isoformat()
    expelled = await client.post(
        f"/api/v1/operator/suppliers/{org_id}/expel",
        json={"reason": "提供虚假材料", "until": until},
        headers=operator,
    )
    assert expelled.json()["status"] == "expelled"
    retry = await client.post(APPLY, json=application(uscc=body["uscc"]))
    assert retry.status_code == 409 and retry.json()["code"] == "supplier.banned"


async def test_supplier_statistics(client, signed_in) -> None:
    for kind in (OrgKind.SUPPLIER, OrgKind.PURCHASER):
        assert (
            await client.get("/api/v1/stats/suppliers", headers=signed_in[kind])
        ).status_code == 403
    assert (await client.post(APPLY, json=application())).status_code == 201
    stats = (
        await client.get("/api/v1/stats/suppliers", headers=signed_in[OrgKind.REGULATOR])
    ).json()
    assert "total" not in stats and "by_status" not in stats
    assert stats["active"] >= 1
    assert stats["active_in_region_share"] == round(
        100 * stats["active_in_region"] / stats["active"], 2
    )
    assert stats["active_individual_business_share"] == round(
        100 * stats["active_individual_business"] / stats["active"], 2
    )
    # The figures add up: every registered supplier is counted once, in its status.
    assert stats["registered_by_status"]["active"] == stats["active"]
    assert stats["registered_by_status"]["pending"] >= 1
    assert stats["registered"] == sum(stats["registered_by_status"].values())
    assert stats["registered"] > stats["active"]


async def test_a_rejected_supplier_may_apply_again_as_the_same_organisation(
    client, signed_in, session_maker
) -> None:
    body = application()
    first = (await client.post(APPLY, json=body)).json()
    operator = signed_in[OrgKind.OPERATOR]
    rejected = await client.post(
        f"{QUEUE}/{first['id']}/reject",
        json={"reason_codes": ["INCOMPLETE_INFORMATION"], "reason": "营业执照照片不清晰"},
        headers=operator,
    )
    assert rejected.status_code == 200, rejected.text
    first_org = (await client.get(f"{QUEUE}/{first['id']}", headers=operator)).json()["org_id"]

    again = await client.post(APPLY, json=application(uscc=body["uscc"]))
    assert again.status_code == 201, again.text
    second = (await client.get(f"{QUEUE}/{again.json()['id']}", headers=operator)).json()
    assert second["org_id"] == first_org and second["status"] == "submitted"
    async with session_maker() as session:
        org = await session.get(Organisation, uuid.UUID(first_org))
    assert org.status == "pending"
    # While that application is open, the code is taken.
    third = await client.post(APPLY, json=application(uscc=body["uscc"]))
    assert third.status_code == 409 and third.json()["code"] == "supplier.uscc_taken"


async def test_an_expelled_code_may_apply_again_when_its_ban_ends(
    client, signed_in, session_maker
) -> None:
    body = application()
    created = (await client.post(APPLY, json=body)).json()
    operator = signed_in[OrgKind.OPERATOR]
    org_id = (
        await client.post(f"{QUEUE}/{created['id']}/approve", json={}, headers=operator)
    ).json()["org_id"]
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=365)).isoformat()
    await client.post(
        f"/api/v1/operator/suppliers/{org_id}/expel",
        json={"reason": "提供虚假材料", "until": until},
        headers=operator,
    )
    banned = await client.post(APPLY, json=application(uscc=body["uscc"]))
    assert banned.status_code == 409 and banned.json()["code"] == "supplier.banned"
    async with session_maker() as session, session.begin():
        # A year later: the ban has ended.
        org = await session.get(Organisation, uuid.UUID(org_id))
        org.status_until = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    again = await client.post(APPLY, json=application(uscc=body["uscc"]))
    assert again.status_code == 201, again.text
    detail = (await client.get(f"{QUEUE}/{again.json()['id']}", headers=operator)).json()
    assert detail["org_id"] == org_id  # the same organisation, its record kept
