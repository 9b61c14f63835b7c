"""Completed orders in public: the disclosure list without personal data, the
OCDS 1.1 release package validated against the vendored schemas, and spot
checks over completed orders recomputed from the public endpoint."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from case_support import new_uscc
from jsonschema import Draft4Validator
from order_support import advance, completed_order, order_parties, placed_order
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4
from support import reveal_time_reached

from mall.api import public as public_api
from mall.auth.models import Organisation, OrgKind
from mall.spotchecks import draw

OCDS = Path(__file__).resolve().parents[1] / "data" / "ocds-1.1.5"
PERSONAL = ("王老师", "0472-5123456", "钢铁大街", "总务处")


def package_validator() -> Draft4Validator:
    """The release-package schema, its ``$ref`` to the release schema resolved from
    the vendored copy (never fetched)."""
    schemas = [
        json.loads((OCDS / name).read_text())
        for name in ("release-package-schema.json", "release-schema.json")
    ]

    def offline(uri: str) -> Resource:
        raise NoSuchResource(ref=uri)

    registry = Registry(retrieve=offline).with_resources(
        (schema["id"], Resource.from_contents(schema, default_specification=DRAFT4))
        for schema in schemas
    )
    return Draft4Validator(
        schemas[0], registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER
    )


def assert_valid(package: dict) -> None:
    errors = sorted(package_validator().iter_errors(package), key=lambda e: list(e.path))
    assert not errors, [(list(e.path), e.message) for e in errors]


def today() -> str:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()


def yesterday() -> str:
    """The window's first day: an order completed just before midnight is still in it."""
    return (dt.date.fromisoformat(today()) - dt.timedelta(days=1)).isoformat()


async def all_public_orders(client) -> list[dict]:
    found, page = [], 1
    while page is not None:
        response = await client.get("/api/v1/public/orders", params={"page": page})
        assert response.status_code == 200, response.text
        found += response.json()["items"]
        page = response.json()["next_page"]
    return found


async def test_completed_orders_are_public_without_personal_data(
    client, signed_in, make_account, login, session_maker
) -> None:
    parties = await order_parties(make_account, login, session_maker)
    done = await completed_order(client, parties, quantity=4)
    open_order = await placed_order(client, parties)

    shown = {o["id"]: o for o in await all_public_orders(client)}
    assert done["id"] in shown and open_order["id"] not in shown
    order = shown[done["id"]]
    assert order["purchasing_unit"] == {
        "id": str(parties.purchaser.user.org_id),
        "name": parties.purchaser.org_name,
    }
    assert order["supplier"]["name"] == parties.supplier.org_name
    [item] = order["items"]
    assert item["quantity"] == 4 and item["unit"] == "包"
    assert item["unit_price"] == "25.00" and item["amount"] == "100.00"
    assert order["total_amount"] == "100.00" and order["paid_amount"] == "100.00"
    assert order["budget_code"] == "BT-2026-JY-0091"
    steps = [order[k] for k in ("placed_at", "confirmed_at", "accepted_at", "paid_at")]
    assert all(steps) and steps == sorted(steps) and steps[-1] <= order["completed_at"]
    text = json.dumps(order, ensure_ascii=False)
    assert not [word for word in PERSONAL if word in text]
    assert not {"contact_name", "contact_phone", "delivery_address", "note"} & set(order)

    # Units returned before completion were not bought: they are not published.
    partly = await placed_order(client, parties, quantity=4)
    await advance(client, parties, partly["id"], until="deliver")
    returned = await client.post(
        f"/api/v1/orders/{partly['id']}/change-requests",
        json={
            "type": "return",
            "reason": "quality_issue",
            "explanation": "一包纸受潮",
            "scope": "lines",
            "lines": [{"line_id": partly["lines"][0]["id"], "quantity": 1}],
        },
        headers=parties.buyer,
    )
    assert returned.status_code == 201, returned.text
    approved = await client.post(
        f"/api/v1/operator/change-requests/{returned.json()['id']}/approve",
        headers=signed_in[OrgKind.OPERATOR],
    )
    assert approved.status_code == 200, approved.text
    await advance(client, parties, partly["id"], after="deliver")
    shown = {o["id"]: o for o in await all_public_orders(client)}
    [item] = shown[partly["id"]]["items"]
    assert item["quantity"] == 3 and item["amount"] == "75.00"
    assert shown[partly["id"]]["total_amount"] == shown[partly["id"]]["paid_amount"] == "75.00"

    # A window names completion days; one without the order leaves it out.
    past = await client.get(
        "/api/v1/public/orders", params={"from": "2025-01-01", "to": "2025-01-31"}
    )
    assert past.status_code == 200 and past.json()["items"] == []
    assert past.json()["from"] == "2025-01-01" and past.json()["next_page"] is None


@pytest.mark.parametrize(
    ("params", "status", "code", "field"),
    [
        ({"from": "yesterday"}, 422, "request.validation_failed", "from"),
        ({"to": "2026-13-01"}, 422, "request.validation_failed", "to"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, 422, "public.window_invalid", "from"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, 422, "public.window_too_long", "to"),
        ({"page": 0}, 422, "request.validation_failed", "page"),
        # Dates at the ends of the calendar have no UTC bounds: refused, not a 500.
        ({"from": "0001-01-01", "to": "0001-01-02"}, 422, "request.validation_failed", "from"),
        ({"from": "0001-01-01"}, 422, "request.validation_failed", "from"),
        ({"from": "9998-12-30", "to": "9999-12-31"}, 422, "request.validation_failed", "to"),
        ({"to": "9999-12-31"}, 422, "request.validation_failed", "to"),
        ({"from": "1999-12-31", "to": "2000-01-01"}, 422, "request.validation_failed", "from"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/public/ocds/releases", "/api/v1/public/orders"])
async def test_bad_windows_name_the_field(client, path, params, status, code, field) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["code"] == code
    assert field in [e["field"] for e in problem["errors"]]


async def test_ocds_release_package_validates(
    client, make_account, login, session_maker, monkeypatch
) -> None:
    parties = await order_parties(make_account, login, session_maker)
    uscc = new_uscc()
    async with session_maker() as session, session.begin():
        (await session.get(Organisation, parties.supplier.user.org_id)).uscc = uscc
    first = await completed_order(client, parties, quantity=2)
    second = await completed_order(client, parties, quantity=1)
    await placed_order(client, parties)

    response = await client.get(
        "/api/v1/public/ocds/releases", params={"from": yesterday(), "to": today()}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "RateLimit-Limit" in response.headers
    package = response.json()
    assert_valid(package)
    assert package["version"] == "1.1" and package["publisher"]["name"]
    assert package["license"].startswith("https://") and package["publicationPolicy"]
    assert f"from={yesterday()}" in package["uri"]
    releases = {r["ocid"]: r for r in package["releases"]}
    ocid = f"ocds-emall0-{first['id']}"
    assert ocid in releases and f"ocds-emall0-{second['id']}" in releases
    assert len({r["ocid"] for r in package["releases"]}) == len(package["releases"])

    release = releases[ocid]
    assert release["initiationType"] == "tender" and "contract" in release["tag"]
    parties_by_role = {role: p for p in release["parties"] for role in p["roles"]}
    buyer, supplier = parties_by_role["buyer"], parties_by_role["supplier"]
    assert buyer["name"] == parties.purchaser.org_name
    assert supplier["identifier"] == {
        "scheme": "CN-USCC",
        "id": uscc,
        "legalName": parties.supplier.org_name,
    }
    assert release["buyer"] == {"id": buyer["id"], "name": buyer["name"]}
    assert release["planning"]["budget"]["id"] == "BT-2026-JY-0091"
    assert release["tender"]["procurementMethod"] == "direct"
    assert release["tender"]["procurementMethodDetails"] == "电子卖场直购 / e-mall direct purchase"
    [award] = release["awards"]
    assert award["suppliers"] == [{"id": supplier["id"], "name": supplier["name"]}]
    assert award["value"] == {"amount": 50, "currency": "CNY"}
    [contract] = release["contracts"]
    assert contract["awardID"] == award["id"] and contract["dateSigned"]
    [item] = contract["items"]
    assert item["quantity"] == 2 and item["unit"]["value"] == {"amount": 25, "currency": "CNY"}
    [payment] = contract["implementation"]["transactions"]
    assert payment["value"] == {"amount": 50, "currency": "CNY"}
    assert payment["payer"] == release["buyer"] and payment["payee"]["id"] == supplier["id"]
    assert isinstance(payment["value"]["amount"], int | float)
    # The validator does read the release schema: a broken release fails it.
    broken = json.loads(response.text)
    del broken["releases"][0]["ocid"]
    broken["releases"][0]["contracts"][0]["value"]["amount"] = "50.00"
    problems = {e.message for e in package_validator().iter_errors(broken)}
    assert "'ocid' is a required property" in problems
    assert any("'50.00' is not of type" in m for m in problems), problems
    assert not [word for word in PERSONAL if word in response.text]

    # Pages: links.next names the next one until the last.
    monkeypatch.setattr(public_api, "RELEASES_PAGE_SIZE", 1)
    url, seen = f"/api/v1/public/ocds/releases?from={yesterday()}&to={today()}", []
    while url:
        page = (await client.get(url)).json()
        assert_valid(page)
        assert len(page["releases"]) == 1
        seen += [r["ocid"] for r in page["releases"]]
        next_uri = page.get("links", {}).get("next")
        url = f"{urlsplit(next_uri).path}?{urlsplit(next_uri).query}" if next_uri else None
    assert sorted(seen) == sorted(releases)


async def test_a_spot_check_over_completed_orders_is_recomputed_from_public_data(
    client, make_account, login, session_maker
) -> None:
    parties = await order_parties(make_account, login, session_maker)
    done = [(await completed_order(client, parties, quantity=1))["id"] for _ in range(3)]
    await placed_order(client, parties)
    regulator = await login(await make_account(OrgKind.REGULATOR))
    seed = secrets.token_urlsafe(24)
    defined = await client.post(
        "/api/v1/spot-checks/",
        json={
            "name": "已完成订单履约抽查",
            "population": "completed_orders",
            "filters": {
                "supplier_id": str(parties.supplier.user.org_id),
                "completed_from": yesterday(),
                "completed_to": today(),
                "category_prefix": "A09",
            },
            "sample_size": 2,
            "seed_sha256": draw.commitment(seed),
        },
        headers=regulator,
    )
    assert defined.status_code == 201, defined.text
    check = defined.json()
    assert sorted(check["population_ids"]) == sorted(done)
    await reveal_time_reached(session_maker, check["id"])
    revealed = await client.post(
        f"/api/v1/spot-checks/{check['id']}/reveal", json={"seed": seed}, headers=regulator
    )
    assert revealed.status_code == 200, revealed.text

    public = (await client.get(f"/api/v1/public/spot-checks/{check['id']}")).json()
    assert public["population"] == "completed_orders"
    assert (
        hashlib.sha256("\n".join(sorted(public["population_ids"])).encode()).hexdigest()
        == (public["population_sha256"])
    )
    drawn_with = f"{public['seed']}:{public['beacon_hash']}".encode()
    keyed = sorted(
        (hmac.new(drawn_with, f"item:{i}".encode(), hashlib.sha256).hexdigest(), i)
        for i in public["population_ids"]
    )
    assert [i["subject_id"] for i in public["items"]] == [i for _, i in keyed[:2]]
    published = {o["id"] for o in await all_public_orders(client)}
    assert {i["subject_id"] for i in public["items"]} <= published
    # Other suppliers' and other categories' orders are not in the population.
    empty = await client.post(
        "/api/v1/spot-checks/",
        json={
            "name": "抽查",
            "population": "completed_orders",
            "filters": {"supplier_id": str(uuid.uuid4())},
            "sample_size": 1,
            "seed_sha256": draw.commitment(seed),
        },
        headers=regulator,
    )
    assert empty.status_code == 422 and empty.json()["code"] == "spotcheck.draw_invalid"


async def test_openapi_lists_the_order_disclosure_paths(client) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    for path in ("/api/v1/public/orders", "/api/v1/public/ocds/releases"):
        assert path in paths, sorted(p for p in paths if "public" in p)
    parameters = {p["name"] for p in paths["/api/v1/public/ocds/releases"]["get"]["parameters"]}
    assert {"from", "to", "page"} <= parameters


@pytest.mark.parametrize(("first", "last"), [("2000-01-01", "2000-01-01"), ("9998-12-31", None)])
@pytest.mark.parametrize("path", ["/api/v1/public/ocds/releases", "/api/v1/public/orders"])
async def test_the_first_and_last_dates_allowed_are_served(client, path, first, last) -> None:
    params = {"from": first, "to": last or first}
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
