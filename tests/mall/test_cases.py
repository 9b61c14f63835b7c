"""Cases: every path from filing to closing, anonymity, evidence, bad input,
and upheld objections reversing what they objected to."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from case_support import (
    CASES,
    application,
    decision_of,
    handle,
    headers_for,
    listing_of,
)
from sqlalchemy import func, select
from support import put_on_sale

from catalog.models import ListingRevision
from mall.audit.models import AuditEvent
from mall.auth.models import Organisation, OrgKind, User
from mall.auth.principal import Principal
from mall.calendar.service import load_calendar
from mall.cases import service as cases
from mall.cases.models import Case
from mall.errors import ConflictError
from mall.pricing import service as monitor
from mall.sla.models import SlaClock
from mall.suppliers.models import SupplierApplication

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


async def _case_count(session_maker) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).select_from(Case))


async def test_anonymous_report_from_filing_to_closing(
    client, signed_in, make_account, login, session_maker
) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    supplier_headers = await login(supplier)
    operator = signed_in[OrgKind.OPERATOR]
    filed = await client.post(
        CASES,
        json={
            "type": "report",
            "subject_type": "supplier",
            "subject_id": str(supplier.user.org_id),
            "claim": "该供应商交付的打印机为翻新机",
        },
    )
    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert body["status"] == "submitted" and len(body["tracking_code"]) == 19
    case_id, code = body["id"], body["tracking_code"]

    # The reporter follows the case with the code alone; a wrong code finds nothing.
    public = await client.get(f"/api/v1/public/cases/{code}")
    assert public.status_code == 200 and public.json()["id"] == case_id
    assert public.json()["your_role"] == "filer" and public.json()["filer"] is None
    [clock] = public.json()["clocks"]
    assert clock["kind"] == "case_acceptance" and clock["met_at"] is None
    assert (await client.get("/api/v1/public/cases/0000-0000-0000-0000")).status_code == 404
    # Lower case and no dashes are the same code.
    same = await client.get(f"/api/v1/public/cases/{code.replace('-', '').lower()}")
    assert same.status_code == 200

    # Nobody is told about the case but operators until it is accepted.
    assert (await client.get(f"{CASES}{case_id}", headers=supplier_headers)).status_code == 404
    assert case_id in [c["id"] for c in (await client.get(CASES, headers=operator)).json()["items"]]

    assigned = await client.post(f"{CASES}{case_id}/assign", json={}, headers=operator)
    assert assigned.status_code == 200 and assigned.json()["assigned_to"] is not None
    accepted = await client.post(
        f"{CASES}{case_id}/accept", json={"note": "受理"}, headers=operator
    )
    assert accepted.status_code == 200, accepted.text
    clocks = {c["kind"]: c for c in accepted.json()["clocks"]}
    assert clocks["case_acceptance"]["met_at"] is not None
    assert clocks["case_resolution"]["met_at"] is None
    assert clocks["case_resolution"]["due_at"] > clocks["case_acceptance"]["due_at"]

    # The thread: the reporter writes by code, the operator answers and keeps a note.
    wrote = await client.post(
        f"/api/v1/public/cases/{code}/messages", json={"body": "补充：序列号已磨损"}
    )
    assert wrote.status_code == 201, wrote.text
    evidence = await client.post(
        f"/api/v1/public/cases/{code}/attachments",
        files={"file": ("invoice.pdf", PDF, "application/pdf")},
    )
    assert evidence.status_code == 201, evidence.text
    for message in ({"body": "请供应商说明"}, {"body": "内部：已联系采购人", "internal": True}):
        response = await client.post(f"{CASES}{case_id}/messages", json=message, headers=operator)
        assert response.status_code == 201, response.text

    # The reported supplier sees the claim and the thread, never the reporter.
    seen = await client.get(f"{CASES}{case_id}", headers=supplier_headers)
    assert seen.status_code == 200, seen.text
    view = seen.json()
    assert view["your_role"] == "respondent" and view["filer"] is None
    assert view["anonymous"] is None and view["assigned_to"] is None
    assert [m["body"] for m in view["messages"]] == ["补充：序列号已磨损", "请供应商说明"]
    assert view["attachments"] == []
    assert all(m["author_user_id"] is None for m in view["messages"])
    replied = await client.post(
        f"{CASES}{case_id}/messages", json={"body": "该批次为全新正品"}, headers=supplier_headers
    )
    assert replied.status_code == 201
    internal = await client.post(
        f"{CASES}{case_id}/messages",
        json={"body": "x", "internal": True},
        headers=supplier_headers,
    )
    assert internal.status_code == 403
    # The respondent cannot withdraw, decide, or touch another's case.
    assert (
        await client.post(f"{CASES}{case_id}/withdraw", json={}, headers=supplier_headers)
    ).status_code == 403
    assert (
        await client.post(
            f"{CASES}{case_id}/decide",
            json={"outcome": "dismissed", "note": "x"},
            headers=supplier_headers,
        )
    ).status_code == 403
    assert (
        await client.get(f"{CASES}{case_id}", headers=signed_in[OrgKind.SUPPLIER])
    ).status_code == 404

    investigating = await client.post(f"{CASES}{case_id}/investigate", json={}, headers=operator)
    assert investigating.json()["status"] == "investigating"
    decided = await client.post(
        f"{CASES}{case_id}/decide",
        json={
            "outcome": "upheld",
            "note": "经核查属实",
            "penalty_code": "LISTING.FALSE_DESCRIPTION",
        },
        headers=operator,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "upheld" and decided.json()["outcome"]["penalty_id"]
    clocks = {c["kind"]: c for c in decided.json()["clocks"]}
    assert clocks["case_resolution"]["met_at"] is not None
    again = await client.post(
        f"{CASES}{case_id}/decide", json={"outcome": "dismissed", "note": "x"}, headers=operator
    )
    assert again.status_code == 409 and again.json()["allowed"] == ["closed"]
    closed = await client.post(f"{CASES}{case_id}/close", json={}, headers=operator)
    assert closed.json()["status"] == "closed"
    public = (await client.get(f"/api/v1/public/cases/{code}")).json()
    assert public["status"] == "closed" and public["decision_note"] == "经核查属实"
    # Internal notes never reach the reporter either.
    assert "内部" not in str(public["messages"])
    late = await client.post(f"/api/v1/public/cases/{code}/messages", json={"body": "?"})
    assert late.status_code == 409

    # The audit trail of an anonymous report names no one.
    async with session_maker() as session:
        case = await session.get(Case, uuid.UUID(case_id))
        assert case.filer_user_id is None and case.filer_org_id is None
        assert case.tracking_code_sha256 and code not in str(case.tracking_code_sha256)
        events = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.actor_kind, AuditEvent.actor_user_id).where(
                    AuditEvent.subject_type == "case", AuditEvent.subject_id == case_id
                )
            )
        ).all()
    filer_events = [e for e in events if e.action in ("case.report_filed", "case.attachment_added")]
    assert len(filer_events) == 2
    assert all(e.actor_kind == "anonymous" and e.actor_user_id is None for e in filer_events)


async def test_a_named_reporter_is_never_shown_to_the_reported_supplier(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    supplier_headers = await login(supplier)
    listing = await listing_of(client, session_maker, settings, supplier_headers)
    reporter = await make_account(OrgKind.PURCHASER, f"包头市第九中学{uuid.uuid4().hex[:6]}")
    reporter_headers = await login(reporter)
    filed = await client.post(
        CASES,
        json={
            "type": "report",
            "subject_type": "listing",
            "subject_id": listing["id"],
            "claim": "商品描述与实物不符",
        },
        headers=reporter_headers,
    )
    assert filed.status_code == 201, filed.text
    assert "tracking_code" not in filed.json()
    case_id = filed.json()["id"]
    operator = signed_in[OrgKind.OPERATOR]
    staff_view = (await client.get(f"{CASES}{case_id}", headers=operator)).json()
    assert staff_view["filer"]["org_name"] == reporter.org_name
    own_view = (await client.get(f"{CASES}{case_id}", headers=reporter_headers)).json()
    assert own_view["your_role"] == "filer" and own_view["filer"]["org_id"] == str(
        reporter.user.org_id
    )
    evidence = await client.post(
        f"{CASES}{case_id}/attachments",
        files={"file": ("purchase-order.pdf", PDF, "application/pdf")},
        headers=reporter_headers,
    )
    assert evidence.status_code == 201, evidence.text
    await client.post(f"{CASES}{case_id}/accept", json={}, headers=operator)
    await client.post(
        f"{CASES}{case_id}/messages", json={"body": "我单位于上周收货"}, headers=reporter_headers
    )
    await client.post(f"{CASES}{case_id}/messages", json={"body": "请说明"}, headers=operator)

    # Everything the supplier can read about the case: nothing names the reporter.
    secrets = [
        str(reporter.user.org_id),
        str(reporter.user.id),
        reporter.org_name,
        reporter.email,
        "purchase-order.pdf",
    ]
    readable = [
        await client.get(f"{CASES}{case_id}", headers=supplier_headers),
        await client.get(CASES, headers=supplier_headers),
        await client.get("/api/v1/notifications/", headers=supplier_headers),
        await client.get(
            f"{CASES}{case_id}/attachments/{evidence.json()['id']}", headers=supplier_headers
        ),
    ]
    assert readable[0].status_code == 200 and readable[0].json()["your_role"] == "respondent"
    assert case_id in readable[1].text
    assert readable[3].status_code == 404
    for response in readable:
        for secret in secrets:
            assert secret not in response.text
    # The reporter and the operators can fetch the evidence.
    for headers in (reporter_headers, operator):
        got = await client.get(
            f"{CASES}{case_id}/attachments/{evidence.json()['id']}", headers=headers
        )
        assert got.status_code == 200 and got.content == PDF

    # Dismissed: no penalty; the named reporter withdraws nothing after a decision.
    decided = await client.post(
        f"{CASES}{case_id}/decide",
        json={"outcome": "dismissed", "note": "不属实"},
        headers=operator,
    )
    assert decided.json()["status"] == "dismissed" and decided.json()["outcome"] == {}
    withdraw = await client.post(f"{CASES}{case_id}/withdraw", json={}, headers=reporter_headers)
    assert withdraw.status_code == 409


async def test_bad_filings_are_refused_and_change_nothing(
    client, signed_in, make_account, login, session_maker
) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    before = await _case_count(session_maker)
    purchaser = signed_in[OrgKind.PURCHASER]
    bad = [
        ({"type": "report", "claim": "x"}, None, 422, "request.validation_failed"),
        (
            {"type": "report", "subject_type": "supplier", "subject_id": "", "claim": "x"},
            None,
            422,
            "request.validation_failed",
        ),
        (
            {
                "type": "report",
                "subject_type": "supplier",
                "subject_id": str(uuid.uuid4()),
                "claim": "x",
            },
            None,
            422,
            "case.subject_not_found",
        ),
        (
            {"type": "report", "subject_type": "supplier", "subject_id": "nope", "claim": "x"},
            None,
            422,
            "case.subject_not_found",
        ),
        (
            {"type": "report", "subject_type": "planet", "subject_id": "1", "claim": "x"},
            None,
            422,
            "case.subject_type_unknown",
        ),
        (
            {"type": "dispute", "subject_type": "order", "subject_id": "1", "claim": "x"},
            purchaser,
            422,
            "case.subject_not_found",
        ),
        (
            {
                "type": "dispute",
                "subject_type": "supplier",
                "subject_id": str(supplier.user.org_id),
                "claim": "x",
            },
            purchaser,
            422,
            "case.subject_type_not_allowed",
        ),
        (
            {
                "type": "objection",
                "subject_type": "penalty",
                "subject_id": str(uuid.uuid4()),
                "claim": "x",
            },
            None,
            401,
            "auth.unauthenticated",
        ),
        (
            {
                "type": "report",
                "subject_type": "supplier",
                "subject_id": str(supplier.user.org_id),
                "claim": "   ",
            },
            None,
            422,
            "case.claim_empty",
        ),
        (
            {
                "type": "report",
                "subject_type": "supplier",
                "subject_id": str(supplier.user.org_id),
                "claim": "x",
                "reporter": "me",
            },
            None,
            422,
            "request.validation_failed",
        ),
    ]
    for body, headers, status, code in bad:
        response = await client.post(CASES, json=body, headers=headers or {})
        assert response.status_code == status, (body, response.text)
        assert response.json()["code"] == code, (body, response.text)
    # A supplier cannot report itself.
    own = await client.post(
        CASES,
        json={
            "type": "report",
            "subject_type": "supplier",
            "subject_id": str(supplier.user.org_id),
            "claim": "x",
        },
        headers=await login(supplier),
    )
    assert own.status_code == 422 and own.json()["code"] == "case.against_self"
    assert await _case_count(session_maker) == before

    # Attachments: wrong type and oversize are refused, nothing stored.
    filed = await client.post(
        CASES,
        json={
            "type": "report",
            "subject_type": "supplier",
            "subject_id": str(supplier.user.org_id),
            "claim": "证据见附件",
        },
    )
    code = filed.json()["tracking_code"]
    for name, content in (
        ("evil.pdf", b"MZ\x90\x00 not a pdf"),
        ("empty.pdf", b""),
        ("huge.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)),
    ):
        response = await client.post(
            f"/api/v1/public/cases/{code}/attachments",
            files={"file": (name, content, "application/pdf")},
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "case.attachment_invalid"
    assert (await client.get(f"/api/v1/public/cases/{code}")).json()["attachments"] == []
    assert (await client.get("/api/v1/cases/subject-types")).json()["application"] == ["objection"]


async def test_withdrawal_and_inadmissible_cases(client, signed_in, make_account, login) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    filed = await client.post(
        CASES,
        json={
            "type": "report",
            "subject_type": "supplier",
            "subject_id": str(supplier.user.org_id),
            "claim": "误报",
        },
    )
    code = filed.json()["tracking_code"]
    withdrawn = await client.post(
        f"/api/v1/public/cases/{code}/withdraw", json={"note": "误报，撤回"}
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert all(c["met_at"] for c in withdrawn.json()["clocks"])
    operator = signed_in[OrgKind.OPERATOR]
    accept = await client.post(f"{CASES}{filed.json()['id']}/accept", json={}, headers=operator)
    assert accept.status_code == 409 and accept.json()["allowed"] == ["closed"]
    closed = await client.post(f"{CASES}{filed.json()['id']}/close", json={}, headers=operator)
    assert closed.json()["status"] == "closed"
    # An inadmissible case is dismissed without being accepted; the respondent never sees it.
    inadmissible = await client.post(
        CASES,
        json={
            "type": "report",
            "subject_type": "supplier",
            "subject_id": str(supplier.user.org_id),
            "claim": "无具体事实",
        },
    )
    dismissed = await client.post(
        f"{CASES}{inadmissible.json()['id']}/decide",
        json={"outcome": "dismissed", "note": "不予受理：无具体事实"},
        headers=operator,
    )
    assert dismissed.status_code == 200 and dismissed.json()["accepted_at"] is None
    assert all(c["met_at"] for c in dismissed.json()["clocks"])
    assert (
        await client.get(f"{CASES}{inadmissible.json()['id']}", headers=await login(supplier))
    ).status_code == 404
    # Regulators read cases but do not handle them.
    regulator = signed_in[OrgKind.REGULATOR]
    assert (await client.get(f"{CASES}{filed.json()['id']}", headers=regulator)).status_code == 200
    assert (
        await client.post(f"{CASES}{filed.json()['id']}/close", json={}, headers=regulator)
    ).status_code == 403


async def test_upheld_objection_reverses_an_application_rejection(
    client, signed_in, session_maker
) -> None:
    body = application()
    app_id = (await client.post("/api/v1/suppliers/applications", json=body)).json()["id"]
    operator = signed_in[OrgKind.OPERATOR]
    rejected = await client.post(
        f"/api/v1/operator/supplier-applications/{app_id}/reject",
        json={"reason_codes": ["NOT_QUALIFIED"], "reason": "经营范围不符"},
        headers=operator,
    )
    assert rejected.json()["status"] == "rejected"
    applicant = await headers_for(client, body["admin_email"], body["admin_password"])

    # Only the applicant may object; a stranger is refused.
    objection = {
        "type": "objection",
        "subject_type": "application",
        "subject_id": app_id,
        "claim": "我公司经营范围包含办公用品，附营业执照",
    }
    stranger = await client.post(CASES, json=objection, headers=signed_in[OrgKind.SUPPLIER])
    assert stranger.status_code == 403 and stranger.json()["code"] == "case.not_affected_party"
    anonymous = await client.post(CASES, json=objection | {"anonymous": True}, headers=applicant)
    assert anonymous.status_code == 422
    filed = await client.post(CASES, json=objection, headers=applicant)
    assert filed.status_code == 201, filed.text
    twice = await client.post(CASES, json=objection, headers=applicant)
    assert twice.status_code == 409 and twice.json()["code"] == "case.already_open"

    decided = await handle(client, operator, filed.json()["id"], "upheld")
    assert decided["outcome"]["reversal"] == {"application_status": "submitted"}
    own = (await client.get("/api/v1/suppliers/application", headers=applicant)).json()
    assert own["status"] == "submitted" and own["rejection_codes"] is None
    async with session_maker() as session:
        application_row = await session.get(SupplierApplication, uuid.UUID(app_id))
        org = await session.get(Organisation, application_row.org_id)
        clock = (
            await session.scalars(
                select(SlaClock).where(
                    SlaClock.subject_id == app_id, SlaClock.kind == "supplier_verification"
                )
            )
        ).one()
    assert org.status == "pending" and clock.met_at is None and clock.breached_at is None
    # Verified again, it can now be approved.
    approved = await client.post(
        f"/api/v1/operator/supplier-applications/{app_id}/approve", json={}, headers=operator
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    # An objection to an approval makes no sense.
    late = await client.post(CASES, json=objection, headers=applicant)
    assert late.status_code == 409 and late.json()["code"] == "case.subject_state"


async def test_upheld_objection_sends_a_rejected_listing_back_to_review(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    supplier_headers = await login(await make_account(OrgKind.SUPPLIER))
    listing = await listing_of(client, session_maker, settings, supplier_headers)
    decision = await decision_of(session_maker, listing["id"])
    assert decision.outcome == "rejected"
    objection = {
        "type": "objection",
        "subject_type": "review_decision",
        "subject_id": str(decision.id),
        "claim": "图片已补充，请重新审核",
    }
    operator = signed_in[OrgKind.OPERATOR]
    filed = await client.post(CASES, json=objection, headers=supplier_headers)
    assert filed.status_code == 201, filed.text
    dismissed = await handle(client, operator, filed.json()["id"], "dismissed")
    assert dismissed["status"] == "dismissed"
    async with session_maker() as session:
        revision = await session.get(ListingRevision, decision.revision_id)
        assert revision.status == "rejected"

    filed = await client.post(CASES, json=objection, headers=supplier_headers)
    upheld = await handle(client, operator, filed.json()["id"], "upheld")
    assert upheld["outcome"]["reversal"]["re_review"] is True
    shown = (await client.get(f"/api/v1/listings/{listing['id']}", headers=supplier_headers)).json()
    assert shown["status"] == "manual_review"
    queue = (await client.get("/api/v1/operator/review-queue/", headers=operator)).json()["items"]
    assert str(decision.revision_id) in str(queue)


async def test_objection_to_a_price_violation_stops_its_clock_and_upheld_withdraws_it(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    supplier_headers = await login(await make_account(OrgKind.SUPPLIER))
    listing = await listing_of(client, session_maker, settings, supplier_headers)
    await put_on_sale(session_maker, listing["id"])
    model = listing["revision"]["model"]
    operator = signed_in[OrgKind.OPERATOR]
    imported = await client.post(
        "/api/v1/pricing/observations/import",
        json={
            "observations": [
                {
                    "source": "ecommerce",
                    "platform": "JD",
                    "self_operated": True,
                    "brand": "deli",
                    "model": model,
                    "price": "20.00",
                    "observed_at": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(),
                }
            ]
        },
        headers=operator,
    )
    assert imported.status_code == 200, imported.text
    async with session_maker() as session, session.begin():
        await monitor.run(session, settings, listing_id=uuid.UUID(listing["id"]))
    [violation] = [
        v
        for v in (
            await client.get(
                "/api/v1/pricing/violations", params={"status": "open"}, headers=supplier_headers
            )
        ).json()["items"]
        if v["listing_id"] == listing["id"]
    ]
    filed = await client.post(
        CASES,
        json={
            "type": "objection",
            "subject_type": "price_violation",
            "subject_id": violation["id"],
            "claim": "京东自营价格为促销价，非常态价格",
        },
        headers=supplier_headers,
    )
    assert filed.status_code == 201, filed.text
    async with session_maker() as session:
        clock = (
            await session.scalars(
                select(SlaClock).where(
                    SlaClock.subject_id == violation["id"], SlaClock.kind == "price_fix"
                )
            )
        ).one()
    assert clock.paused_since is not None
    # The price monitor's own objection endpoint sees the open case.
    legacy = await client.post(
        f"/api/v1/pricing/violations/{violation['id']}/objection",
        json={"reason": "again"},
        headers=supplier_headers,
    )
    assert legacy.status_code == 409
    decided = await handle(client, operator, filed.json()["id"], "upheld")
    assert decided["outcome"]["reversal"]["violation_status"] == "resolved"
    resolved = (
        await client.get(
            "/api/v1/pricing/violations", params={"status": "resolved"}, headers=supplier_headers
        )
    ).json()["items"]
    assert [v["resolution"] for v in resolved if v["id"] == violation["id"]] == ["objection_upheld"]


async def test_two_objections_filed_at_once_cannot_both_be_open(
    client, signed_in, session_maker, settings
) -> None:
    """The pre-check cannot see an objection another transaction has not committed:
    the unique index decides, and the loser gets the same 409."""
    body = application()
    app_id = (await client.post("/api/v1/suppliers/applications", json=body)).json()["id"]
    rejected = await client.post(
        f"/api/v1/operator/supplier-applications/{app_id}/reject",
        json={"reason_codes": ["NOT_QUALIFIED"], "reason": "经营范围不符"},
        headers=signed_in[OrgKind.OPERATOR],
    )
    assert rejected.json()["status"] == "rejected"
    async with session_maker() as session:
        user = (
            await session.scalars(select(User).where(User.email == body["admin_email"].lower()))
        ).one()
        org = await session.get_one(Organisation, user.org_id)
        calendar = await load_calendar(session)
    applicant = Principal(user.id, user.email, org.id, OrgKind(org.kind), org.name)
    filing = cases.Filing("objection", "application", app_id, "我公司经营范围包含办公用品")

    async with session_maker() as first, session_maker() as second:
        await cases.file(first, calendar, settings, applicant, filing)
        # The second filing passes the pre-check, then waits on the index for the first.
        racing = asyncio.create_task(cases.file(second, calendar, settings, applicant, filing))
        await asyncio.sleep(0.5)
        assert not racing.done()
        await first.commit()
        with pytest.raises(ConflictError) as refused:
            await racing
        assert refused.value.code == "case.already_open"
        await second.rollback()
    open_objections = select(func.count()).where(
        Case.case_type == "objection", Case.subject_id == app_id
    )
    async with session_maker() as session:
        assert await session.scalar(open_objections) == 1
