"""Cases about orders: disputes between the two parties, reports against the
supplier that keep the reporter anonymous."""

from __future__ import annotations

import json

from case_support import CASES, handle
from order_support import advance, completed_order, order_parties, placed_order

from mall.auth.models import OrgKind


def dispute(order_id: str, claim: str = "交付的复印纸规格与合同不符") -> dict:
    return {"type": "dispute", "subject_type": "order", "subject_id": order_id, "claim": claim}


async def test_either_party_disputes_and_the_other_answers(
    client, signed_in, make_account, login, session_maker
) -> None:
    parties = await order_parties(make_account, login, session_maker)
    order = await placed_order(client, parties)
    await advance(client, parties, order["id"], until="deliver")
    operator = signed_in[OrgKind.OPERATOR]
    assert "order" in (await client.get(f"{CASES}subject-types")).json()

    # The purchasing unit files: the supplier is the respondent.
    by_buyer = await client.post(CASES, json=dispute(order["id"]), headers=parties.buyer)
    assert by_buyer.status_code == 201, by_buyer.text
    buyer_case = by_buyer.json()["id"]
    assert "tracking_code" not in by_buyer.json()
    seen = (await client.get(f"{CASES}{buyer_case}", headers=parties.buyer)).json()
    assert seen["your_role"] == "filer"
    assert seen["respondent_org_id"] == str(parties.supplier.user.org_id)
    # The respondent sees the dispute once accepted, without who filed it.
    assert (await client.get(f"{CASES}{buyer_case}", headers=parties.seller)).status_code == 404
    accepted = await client.post(f"{CASES}{buyer_case}/accept", json={}, headers=operator)
    assert accepted.status_code == 200, accepted.text
    answer = (await client.get(f"{CASES}{buyer_case}", headers=parties.seller)).json()
    assert answer["your_role"] == "respondent" and answer["type"] == "dispute"
    assert answer["filer"] is None and answer["anonymous"] is None
    reply = await client.post(
        f"{CASES}{buyer_case}/messages", json={"body": "已按合同交付"}, headers=parties.seller
    )
    assert reply.status_code in (200, 201), reply.text

    # The supplier files about the same order: the purchasing unit is the respondent.
    by_seller = await client.post(
        CASES, json=dispute(order["id"], "采购单位拒不验收"), headers=parties.seller
    )
    assert by_seller.status_code == 201, by_seller.text
    seller_case = by_seller.json()["id"]
    staff_view = (await client.get(f"{CASES}{seller_case}", headers=operator)).json()
    assert staff_view["respondent_org_id"] == str(parties.purchaser.user.org_id)
    assert staff_view["filer"]["org_id"] == str(parties.supplier.user.org_id)

    # A purchasing unit cannot be penalised; the dispute is decided and recorded.
    for step in ("accept", "investigate"):
        assert (
            await client.post(f"{CASES}{seller_case}/{step}", json={}, headers=operator)
        ).status_code == 200
    refused = await client.post(
        f"{CASES}{seller_case}/decide",
        json={"outcome": "upheld", "note": "经核查", "penalty_code": "CONTRACT.LATE_DELIVERY"},
        headers=operator,
    )
    assert refused.status_code == 422 and refused.json()["code"] == "case.penalty_not_allowed"
    decided = await client.post(
        f"{CASES}{seller_case}/decide",
        json={"outcome": "upheld", "note": "采购单位应在七个工作日内验收"},
        headers=operator,
    )
    assert decided.status_code == 200 and decided.json()["status"] == "upheld"
    # An upheld dispute leaves the order as it was.
    detail = (await client.get(f"/api/v1/orders/{order['id']}", headers=parties.buyer)).json()
    assert detail["status"] == "delivered"

    # Outsiders may not dispute: an order not completed is, to them, no order at all.
    outsider = await login(await make_account(OrgKind.PURCHASER))
    foreign = await client.post(CASES, json=dispute(order["id"]), headers=outsider)
    assert foreign.status_code == 422 and foreign.json()["code"] == "case.subject_not_found"
    anonymous = await client.post(CASES, json=dispute(order["id"]))
    assert anonymous.status_code == 401
    unknown = await client.post(
        CASES, json=dispute("0190a000-0000-7000-8000-000000000000"), headers=parties.buyer
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "case.subject_not_found"
    # Neither party sees the other's disputes with third parties, nor do outsiders see these.
    assert (await client.get(f"{CASES}{buyer_case}", headers=outsider)).status_code == 404


async def test_a_report_against_a_completed_order_keeps_the_reporter_anonymous(
    client, signed_in, make_account, login, session_maker
) -> None:
    parties = await order_parties(make_account, login, session_maker)
    order = await completed_order(client, parties)
    operator = signed_in[OrgKind.OPERATOR]
    reporter = await make_account(OrgKind.PURCHASER)
    filed = await client.post(
        CASES,
        json={
            "type": "report",
            "subject_type": "order",
            "subject_id": order["id"],
            "claim": "该订单价格明显高于市场价，疑似串通",
            "anonymous": True,
        },
        headers=await login(reporter),
    )
    assert filed.status_code == 201, filed.text
    case_id, code = filed.json()["id"], filed.json()["tracking_code"]
    staff = (await client.get(f"{CASES}{case_id}", headers=operator)).json()
    assert staff["anonymous"] is True and staff["filer"] is None
    assert staff["respondent_org_id"] == str(parties.supplier.user.org_id)

    decided = await handle(
        client, operator, case_id, "upheld", penalty_code="CONTRACT.LATE_DELIVERY"
    )
    assert decided["outcome"].get("penalty_id")
    seen = (await client.get(f"{CASES}{case_id}", headers=parties.seller)).json()
    assert seen["your_role"] == "respondent" and seen["filer"] is None
    assert seen["anonymous"] is None
    assert str(reporter.user.id) not in str(seen)
    assert str(reporter.user.org_id) not in str(seen)
    # The purchasing unit of the order is not a party to the report.
    assert (await client.get(f"{CASES}{case_id}", headers=parties.buyer)).status_code == 404
    followed = (await client.get(f"/api/v1/public/cases/{code}")).json()
    assert followed["status"] == "upheld" and followed["your_role"] == "filer"


def report(order_id: str, *, anonymous: bool) -> dict:
    return {
        "type": "report",
        "subject_type": "order",
        "subject_id": order_id,
        "claim": "该订单价格明显高于市场价，疑似串通",
        "anonymous": anonymous,
    }


def without_id(response, order_id: str) -> tuple[int, dict]:
    """The response with the order and request ids taken out, to compare a hidden
    order with none."""
    problem = json.loads(response.text.replace(order_id, "<id>"))
    problem.pop("request_id", None)
    return response.status_code, problem


async def test_an_order_not_completed_is_reported_only_by_its_parties_by_name(
    client, signed_in, make_account, login, session_maker
) -> None:
    parties = await order_parties(make_account, login, session_maker)
    order = await placed_order(client, parties)
    await advance(client, parties, order["id"], until="deliver")
    missing = "0190a000-0000-7000-8000-000000000000"
    outsider = await login(await make_account(OrgKind.PURCHASER))

    # To anyone but its parties, an order not completed answers as no order at all:
    # signed in or not, anonymous or named, report or dispute.
    for headers in (outsider, {}):
        for body in (report, dispute):
            kwargs = {"anonymous": True} if body is report else {}
            hidden = await client.post(CASES, json=body(order["id"], **kwargs), headers=headers)
            none = await client.post(CASES, json=body(missing, **kwargs), headers=headers)
            assert without_id(hidden, order["id"]) == without_id(none, missing)
    named = await client.post(CASES, json=report(order["id"], anonymous=False), headers=outsider)
    assert named.status_code == 422 and named.json()["code"] == "case.subject_not_found"

    # The purchasing unit may report it, but not anonymously: the supplier would know.
    refused = await client.post(
        CASES, json=report(order["id"], anonymous=True), headers=parties.buyer
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "case.anonymous_not_allowed"
    assert "dispute" in problem["detail"] and "争议" in problem["title"]
    assert problem["errors"][0]["field"] == "anonymous"
    filed = await client.post(
        CASES, json=report(order["id"], anonymous=False), headers=parties.buyer
    )
    assert filed.status_code == 201, filed.text
    assert "tracking_code" not in filed.json()
    seen = (await client.get(f"{CASES}{filed.json()['id']}", headers=parties.buyer)).json()
    assert seen["your_role"] == "filer" and seen["anonymous"] is False

    # Once completed, the order is public: anyone may report it, anonymously too.
    await advance(client, parties, order["id"], after="deliver")
    public = await client.post(CASES, json=report(order["id"], anonymous=True))
    assert public.status_code == 201, public.text
    assert public.json()["tracking_code"]
    # A completed order is public, so an outsider's dispute is refused for what it is.
    foreign = await client.post(CASES, json=dispute(order["id"]), headers=outsider)
    assert foreign.status_code == 403 and foreign.json()["code"] == "case.not_a_party"
