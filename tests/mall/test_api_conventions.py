"""Conventions every endpoint shares: timestamps, list parameters and pages, the OpenAPI document."""

from __future__ import annotations

import inspect
import re
from typing import Any, get_args

from litestar.routes import HTTPRoute

from catalog.categories import seed_demo_categories
from catalog.models import LISTING_STATUSES
from mall.api.enums import ListingStatus
from mall.auth.models import OrgKind
from mall.listings.service import REJECTION_CODES
from mall.orders.models import ORDER_STATUSES
from mall.suppliers.models import DOCUMENT_KINDS
from pricing_monitor.policy import SOURCES
from tests.mall.test_listings import desktop
from tests.mall.test_suppliers import APPLY, application, supplier_headers

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def timestamps(value: Any, path: str = "$") -> dict[str, str]:
    """Every date-time string in a JSON value, by its path."""
    found: dict[str, str] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= timestamps(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found |= timestamps(item, f"{path}[{index}]")
    elif isinstance(value, str) and TIMESTAMP.match(value):
        found[path] = value
    return found


# ---------------------------------------------------------------- timestamps


async def test_posted_and_read_timestamps_share_one_form(client, signed_in) -> None:
    body = application()
    created = await client.post(APPLY, json=body)
    assert created.status_code == 201, created.text
    headers = await supplier_headers(client, body)
    read = await client.get("/api/v1/suppliers/application", headers=headers)
    assert read.status_code == 200, read.text
    queue = await client.get(
        "/api/v1/operator/supplier-applications", headers=signed_in[OrgKind.OPERATOR]
    )
    written = (
        timestamps(created.json(), "post")
        | timestamps(read.json(), "get")
        | timestamps(queue.json(), "queue")
    )
    assert len(written) >= 3, written
    assert all(value.endswith("+08:00") for value in written.values()), written
    # The same moment is written the same way by the POST and the GET that follows it.
    assert created.json()["due_at"] == read.json()["due_at"]


# ---------------------------------------------------------------- list parameters


async def test_unknown_query_parameters_are_refused(client, signed_in) -> None:
    misspelled = await client.get("/api/v1/public/listings", params={"pgae": 2})
    assert misspelled.status_code == 422, misspelled.text
    body = misspelled.json()
    assert body["code"] == "request.unknown_parameter"
    assert [e["field"] for e in body["errors"]] == ["pgae"]
    assert body["errors"][0]["source"] == "query" and body["errors"][0]["message_zh"]
    # Parameters a dependency or an alias declares count as declared.
    window = await client.get("/api/v1/public/orders", params={"from": "2026-01-01"})
    assert window.status_code == 200, window.text
    # Protected routes too, after authentication.
    own = await client.get(
        "/api/v1/notifications/",
        params={"unread_only": "true", "unread": "1"},
        headers=signed_in[OrgKind.SUPPLIER],
    )
    assert own.status_code == 422 and {e["field"] for e in own.json()["errors"]} == {"unread"}
    assert (await client.get("/health", params={"verbose": "1"})).status_code == 422


# ---------------------------------------------------------------- the OpenAPI document

METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM_REF = "#/components/schemas/ProblemDetails"


def _reads_its_body(handler) -> bool:
    """A handler that reads the raw body instead of declaring ``data``."""
    source = inspect.getsource(handler.fn)
    return any(call in source for call in ("request.body()", "request.form()", "request.stream()"))


def _handlers(app):
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                if method != "OPTIONS" and handler.resolve_include_in_schema():
                    yield route.path_format, method.lower(), handler


async def test_every_operation_is_documented_for_clients(app, client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    problem = document["components"]["schemas"]["ProblemDetails"]
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(problem["properties"])

    faults: list[str] = []
    for path, method, handler in _handlers(app):
        operation = document["paths"][path][method]
        where = f"{method.upper()} {path}"
        if not (operation.get("description") or "").strip():
            faults.append(f"{where}: no description")
        protected = bool(handler.resolve_guards())
        if protected and operation.get("security") != [{"bearer": []}]:
            faults.append(f"{where}: protected but no bearer security")
        if not protected and operation.get("security") not in (None, [{"bearer": []}, {}]):
            faults.append(f"{where}: public but asks for a token")
        errors = {s: r for s, r in operation["responses"].items() if s.startswith("4")}
        if "422" not in errors:
            faults.append(f"{where}: no 422")
        for status, response in errors.items():
            content = response.get("content") or {}
            schema = content.get("application/problem+json", {}).get("schema", {})
            if schema.get("$ref") != PROBLEM_REF or set(content) != {"application/problem+json"}:
                faults.append(f"{where}: {status} is not problem details")
        takes_body = "data" in handler.parsed_fn_signature.parameters or _reads_its_body(handler)
        if takes_body and not operation.get("requestBody", {}).get("content"):
            faults.append(f"{where}: takes a body the document does not show")
    assert not faults, "\n".join(faults)


async def test_the_docs_pages_load_nothing_from_elsewhere(client) -> None:
    for page in ("/schema", "/schema/swagger"):
        response = await client.get(page)
        assert response.status_code == 200, page
        html = response.text
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        assets = [u for u in urls if not u.startswith("/schema/openapi")]
        assert assets, f"{page} names no script or style"
        assert all(u.startswith("/") and not u.startswith("//") for u in urls), (page, urls)
        for url in assets:
            served = await client.get(url)
            assert served.status_code == 200 and len(served.content) > 100, url
    scalar = (await client.get("/schema")).text
    assert '"withDefaultFonts":false' in scalar.replace(" ", "")


async def test_enumerations_are_enums(client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    listing = document["paths"]["/api/v1/listings"]["get"]["parameters"]
    [status] = [p for p in listing if p["name"] == "status"]
    assert set(get_args(ListingStatus)) == set(LISTING_STATUSES)
    assert set(LISTING_STATUSES) <= set(status["schema"]["enum"])
    schemas = document["components"]["schemas"]
    assert schemas["OrderOut"]["properties"]["status"]["enum"] == list(ORDER_STATUSES)
    assert schemas["DocumentOut"]["properties"]["kind"]["enum"] == list(DOCUMENT_KINDS)
    imported = document["paths"]["/api/v1/pricing/observations/import"]["post"]["requestBody"]
    assert set(imported["content"]) == {"application/json", "application/x-ndjson", "text/csv"}
    row = imported["content"]["application/json"]["schema"]["properties"]["observations"]
    assert row["items"]["properties"]["source"]["enum"] == list(SOURCES)
    # Reason codes an input takes are listed, while services still check them.
    reasons = schemas["ManualDecisionIn"]["properties"]["reason_codes"]["items"]["enum"]
    assert reasons == list(REJECTION_CODES)


async def test_a_suppliers_listings_page_and_filter_by_status(
    client, session_maker, make_account, login
) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
    headers = await login(await make_account(OrgKind.SUPPLIER))
    created = []
    for number in range(5):
        response = await client.post(
            "/api/v1/listings/", json={**desktop(), "submit": number < 2}, headers=headers
        )
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
    seen, page = [], 1
    while page is not None:
        response = await client.get(
            "/api/v1/listings/", params={"page": page, "page_size": 2}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["page"] == page and body["page_size"] == 2 and len(body["items"]) <= 2
        seen += [item["id"] for item in body["items"]]
        page = body["next_page"]
    assert seen == created[::-1]  # newest first, each once, across three pages
    drafts = await client.get("/api/v1/listings/", params={"status": "draft"}, headers=headers)
    assert {item["id"] for item in drafts.json()["items"]} == set(created[2:])
    assert all(item["status"] == "draft" for item in drafts.json()["items"])
    unknown = await client.get("/api/v1/listings/", params={"status": "lost"}, headers=headers)
    assert unknown.status_code == 422
    # The page size of a list is bounded, and the old parameters are gone.
    too_big = await client.get("/api/v1/listings/", params={"page_size": 501}, headers=headers)
    assert too_big.status_code == 422
    old = await client.get("/api/v1/listings/", params={"limit": 2}, headers=headers)
    assert old.status_code == 422 and old.json()["errors"][0]["field"] == "limit"


async def test_public_pages_are_distinct(client) -> None:
    first = (await client.get("/api/v1/public/suppliers", params={"page_size": 1})).json()
    assert set(first) == {"items", "page", "page_size", "next_page"}
    if first["next_page"] is None:
        return
    second = await client.get(
        "/api/v1/public/suppliers", params={"page": first["next_page"], "page_size": 1}
    )
    assert second.status_code == 200
    assert second.json()["page"] == 2 and second.json()["items"] != first["items"]
