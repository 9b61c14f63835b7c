"""Everyday listing flows: objections to a rejection, the product page during an
edit, stock changes, relisting, deleting, submitting a rejected listing, the
manual queue's claim, and the one listing detail."""

from __future__ import annotations

import datetime as dt
import io
import uuid
import zipfile

import pytest
from case_support import handle, listing_of
from PIL import Image
from sqlalchemy import select

from catalog.categories import seed_demo_categories
from mall.audit.models import AuditEvent
from mall.auth.models import OrgKind
from mall.listings import imports
from mall.listings import service as flow
from pricing_monitor.models import MarketBaseline
from tests.mall.test_listings import desktop, jpeg

LISTINGS = "/api/v1/listings/"
CASES = "/api/v1/cases/"


@pytest.fixture(scope="module")
async def demo_categories(session_maker) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)


async def _run_review(session_maker, settings, revision_id: str) -> str | None:
    """What the review job does for one revision."""
    async with session_maker() as session, session.begin():
        return await flow.review_revision(session, settings, uuid.UUID(revision_id))


async def _supplier(make_account, login) -> dict[str, str]:
    return await login(await make_account(OrgKind.SUPPLIER))


async def _on_sale(client, session_maker, settings, headers, **overrides) -> dict:
    """A listing approved by the rules (it has an image)."""
    created = await client.post(LISTINGS, json=desktop(**overrides), headers=headers)
    assert created.status_code == 201, created.text
    listing = created.json()
    image = await client.post(
        f"{LISTINGS}{listing['id']}/images",
        headers=headers,
        files={"file": ("p.jpg", jpeg(), "image/jpeg")},
    )
    assert image.status_code == 201, image.text
    submitted = (await client.post(f"{LISTINGS}{listing['id']}/submit", headers=headers)).json()
    assert await _run_review(session_maker, settings, submitted["revision"]["id"]) == "approved"
    return (await client.get(f"{LISTINGS}{listing['id']}", headers=headers)).json()


async def _actions(session_maker, listing_id: str) -> list[str]:
    async with session_maker() as session:
        return list(
            (
                await session.scalars(
                    select(AuditEvent.action)
                    .where(AuditEvent.subject_id == listing_id)
                    .order_by(AuditEvent.id)
                )
            ).all()
        )


# ------------------------------------------------------------ objections


async def test_an_objection_names_the_listing_or_the_decision_its_review_shows(
    client, signed_in, make_account, login, session_maker, settings
) -> None:
    owner = await _supplier(make_account, login)
    listing = await listing_of(client, session_maker, settings, owner)
    review = (await client.get(f"{LISTINGS}{listing['id']}/review", headers=owner)).json()
    assert review["outcome"] == "rejected" and review["id"]
    by_listing = {
        "type": "objection",
        "subject_type": "listing",
        "subject_id": listing["id"],
        "claim": "图片已补充，请重新审核",
    }
    # Another supplier, a purchaser: no such listing of theirs.
    for headers in (await _supplier(make_account, login), signed_in[OrgKind.PURCHASER]):
        refused = await client.post(CASES, json=by_listing, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "case.subject_not_found"
    filed = await client.post(CASES, json=by_listing, headers=owner)
    assert filed.status_code == 201, filed.text
    case = (await client.get(f"{CASES}{filed.json()['id']}", headers=owner)).json()
    assert (case["subject_type"], case["subject_id"]) == ("review_decision", review["id"])
    # The same rejection named by its decision id is the same open objection.
    by_decision = by_listing | {"subject_type": "review_decision", "subject_id": review["id"]}
    twice = await client.post(CASES, json=by_decision, headers=owner)
    assert twice.status_code == 409 and twice.json()["code"] == "case.already_open"
    upheld = await handle(client, signed_in[OrgKind.OPERATOR], filed.json()["id"], "upheld")
    assert upheld["outcome"]["reversal"]["re_review"] is True
    shown = (await client.get(f"{LISTINGS}{listing['id']}", headers=owner)).json()
    assert shown["status"] == "manual_review"


async def test_an_objection_needs_a_rejection(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    owner = await _supplier(make_account, login)
    listing = await _on_sale(client, session_maker, settings, owner)
    filed = await client.post(
        CASES,
        json={
            "type": "objection",
            "subject_type": "listing",
            "subject_id": listing["id"],
            "claim": "无驳回",
        },
        headers=owner,
    )
    assert filed.status_code == 409 and filed.json()["code"] == "case.subject_state"


# ------------------------------------------------------------ the product page


async def test_purchasers_see_the_live_revision_while_an_edit_is_pending(
    client, demo_categories, signed_in, make_account, login, session_maker, settings
) -> None:
    owner = await _supplier(make_account, login)
    purchaser = signed_in[OrgKind.PURCHASER]
    listing = await _on_sale(client, session_maker, settings, owner)
    url = f"{LISTINGS}{listing['id']}"
    edited = await client.patch(url, json={"price": "4399.00"}, headers=owner)
    assert edited.status_code == 200
    for step in ("draft", "submitted"):
        if step == "submitted":
            assert (await client.post(f"{url}/submit", headers=owner)).status_code == 200
        seen = await client.get(url, headers=purchaser)
        assert seen.status_code == 200, (step, seen.text)
        body = seen.json()
        assert body["revision"]["price"] == "4599.00" and body["on_sale"] is True
        assert body["live"]["number"] == 1 and body["pending"] is None
        assert body["status"] == "approved"
        prices = await client.get(f"{url}/price-history", headers=purchaser)
        assert prices.status_code == 200
        assert [p["price"] for p in prices.json()["listing_prices"]] == ["4599.00"]
        # The owner and operators see the pending revision beside the live one.
        mine = (await client.get(url, headers=owner)).json()
        assert mine["revision"]["number"] == 2 and mine["pending"]["status"] == step
        assert mine["live"]["status"] == "approved"
        operators = (await client.get(url, headers=signed_in[OrgKind.OPERATOR])).json()
        assert operators["pending"]["status"] == step
    # Another supplier never sees it; a delisted listing is gone for purchasers.
    stranger = await _supplier(make_account, login)
    assert (await client.get(url, headers=stranger)).status_code == 404
    await client.post(f"{url}/delist", json={}, headers=owner)
    assert (await client.get(url, headers=purchaser)).status_code == 404
    assert (await client.get(f"{url}/price-history", headers=purchaser)).status_code == 404


async def test_a_listing_never_on_sale_is_not_found_by_purchasers(
    client, demo_categories, signed_in, make_account, login
) -> None:
    owner = await _supplier(make_account, login)
    listing = (await client.post(LISTINGS, json=desktop(), headers=owner)).json()
    seen = await client.get(f"{LISTINGS}{listing['id']}", headers=signed_in[OrgKind.PURCHASER])
    assert seen.status_code == 404


# ------------------------------------------------------------ the listing detail


async def test_create_edit_and_read_answer_the_same_detail(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    owner = await _supplier(make_account, login)
    created = (await client.post(LISTINGS, json=desktop(), headers=owner)).json()
    assert created["supplier"]["id"] == created["supplier_id"] and created["stock"] is None
    assert created["live"] is None and created["pending"]["status"] == "draft"
    listing = await _on_sale(client, session_maker, settings, owner)
    url = f"{LISTINGS}{listing['id']}"
    edited = (
        await client.patch(
            url, json={"title": listing["revision"]["title"] + " 新款"}, headers=owner
        )
    ).json()
    read = (await client.get(url, headers=owner)).json()
    assert edited == read
    assert edited["supplier"]["name"] and edited["stock"] == 20
    assert edited["live"]["status"] == "approved" and edited["pending"]["status"] == "draft"
    assert edited["on_sale"] is True


# ------------------------------------------------------------ stock, relist, delete


async def test_the_stock_alone_changes_on_sale_at_once(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    owner = await _supplier(make_account, login)
    listing = await _on_sale(client, session_maker, settings, owner)
    url = f"{LISTINGS}{listing['id']}"
    changed = await client.patch(url, json={"stock": 7}, headers=owner)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["stock"] == 7 and body["revision"]["number"] == 1 and body["pending"] is None
    assert body["status"] == "approved" and body["on_sale"] is True
    # With an edit pending, both the live and the pending revision get the new stock.
    await client.patch(url, json={"price": "4499.00"}, headers=owner)
    both = (await client.patch(url, json={"stock": 3}, headers=owner)).json()
    assert both["stock"] == 3 and both["revision"]["stock"] == 3
    assert both["revision"]["number"] == 2 and both["revision"]["price"] == "4499.00"
    actions = await _actions(session_maker, listing["id"])
    assert actions.count("listing.stock_changed") == 2
    stranger = await _supplier(make_account, login)
    assert (await client.patch(url, json={"stock": 1}, headers=stranger)).status_code == 404


async def test_a_delisted_listing_is_relisted_through_review(
    client, demo_categories, signed_in, make_account, login, session_maker, settings
) -> None:
    owner = await _supplier(make_account, login)
    listing = await _on_sale(client, session_maker, settings, owner)
    url = f"{LISTINGS}{listing['id']}"
    early = await client.post(f"{url}/relist", headers=owner)
    assert early.status_code == 409 and early.json()["code"] == "catalog.listing_state"
    await client.post(f"{url}/delist", json={}, headers=owner)
    stranger = await _supplier(make_account, login)
    assert (await client.post(f"{url}/relist", headers=stranger)).status_code == 404
    assert (
        await client.post(f"{url}/relist", headers=signed_in[OrgKind.PURCHASER])
    ).status_code == 403
    relisted = await client.post(f"{url}/relist", headers=owner)
    assert relisted.status_code == 200, relisted.text
    body = relisted.json()
    assert body["status"] == "submitted" and body["on_sale"] is False
    assert (
        body["pending"]["number"] == 2 and body["revision"]["title"] == listing["revision"]["title"]
    )
    assert await _run_review(session_maker, settings, body["revision"]["id"]) == "approved"
    shown = (await client.get(url, headers=signed_in[OrgKind.PURCHASER])).json()
    assert shown["on_sale"] is True and shown["live"]["number"] == 2
    assert "listing.relist_submitted" in await _actions(session_maker, listing["id"])


async def test_only_a_listing_never_on_sale_can_be_deleted(
    client, demo_categories, signed_in, make_account, login, session_maker, settings
) -> None:
    owner = await _supplier(make_account, login)
    stranger = await _supplier(make_account, login)
    draft = (await client.post(LISTINGS, json=desktop(), headers=owner)).json()
    assert (await client.delete(f"{LISTINGS}{draft['id']}", headers=stranger)).status_code == 404
    assert (
        await client.delete(f"{LISTINGS}{draft['id']}", headers=signed_in[OrgKind.OPERATOR])
    ).status_code == 403
    assert (await client.delete(f"{LISTINGS}{draft['id']}", headers=owner)).status_code == 204
    assert (await client.get(f"{LISTINGS}{draft['id']}", headers=owner)).status_code == 404
    assert "listing.deleted" in await _actions(session_maker, draft["id"])

    rejected = await listing_of(client, session_maker, settings, owner)
    assert (await client.delete(f"{LISTINGS}{rejected['id']}", headers=owner)).status_code == 204

    waiting = (await client.post(LISTINGS, json=desktop() | {"submit": True}, headers=owner)).json()
    refused = await client.delete(f"{LISTINGS}{waiting['id']}", headers=owner)
    assert refused.status_code == 409 and refused.json()["code"] == "catalog.listing_not_deletable"

    sold = await _on_sale(client, session_maker, settings, owner)
    await client.post(f"{LISTINGS}{sold['id']}/delist", json={}, headers=owner)
    refused = await client.delete(f"{LISTINGS}{sold['id']}", headers=owner)
    assert refused.status_code == 409 and refused.json()["code"] == "catalog.listing_not_deletable"


async def test_a_rejected_listing_with_an_image_added_is_submitted_as_is(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    owner = await _supplier(make_account, login)
    listing = (await client.post(LISTINGS, json=desktop() | {"submit": True}, headers=owner)).json()
    assert await _run_review(session_maker, settings, listing["revision"]["id"]) == "rejected"
    url = f"{LISTINGS}{listing['id']}"
    image = await client.post(
        f"{url}/images", headers=owner, files={"file": ("p.jpg", jpeg(), "image/jpeg")}
    )
    assert image.status_code == 201
    submitted = await client.post(f"{url}/submit", headers=owner)
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert body["status"] == "submitted" and body["revision"]["number"] == 2
    assert await _run_review(session_maker, settings, body["revision"]["id"]) == "approved"


# ------------------------------------------------------------ the manual queue


async def _to_manual_review(client, session_maker, settings, headers) -> tuple[str, str]:
    body = desktop(price="2999.00")
    async with session_maker() as session, session.begin():
        session.add(
            MarketBaseline(
                brand_norm="联想",
                model_norm=body["model"].lower(),
                price="4500.00",
                observations=3,
                source="jd_self_operated",
                computed_at=dt.datetime.now(dt.UTC),
            )
        )
    listing = (await client.post(LISTINGS, json=body, headers=headers)).json()
    await client.post(
        f"{LISTINGS}{listing['id']}/images",
        headers=headers,
        files={"file": ("p.jpg", jpeg(), "image/jpeg")},
    )
    revision_id = (await client.post(f"{LISTINGS}{listing['id']}/submit", headers=headers)).json()[
        "revision"
    ]["id"]
    assert await _run_review(session_maker, settings, revision_id) == "manual_review"
    return listing["id"], revision_id


async def test_deciding_claims_and_the_automatic_findings_stay_visible(
    client, demo_categories, signed_in, make_account, login, session_maker, settings
) -> None:
    owner = await _supplier(make_account, login)
    first_operator = signed_in[OrgKind.OPERATOR]
    second_account = await make_account(OrgKind.OPERATOR)
    second_operator = await login(second_account)
    listing_id, revision_id = await _to_manual_review(client, session_maker, settings, owner)
    queue = "/api/v1/operator/review-queue/"
    claimed = await client.post(f"{queue}{revision_id}/claim", headers=second_operator)
    assert claimed.status_code == 200
    taken = await client.post(f"{queue}{revision_id}/approve", json={}, headers=first_operator)
    assert taken.status_code == 409 and taken.json()["code"] == "catalog.review_claimed"
    approved = await client.post(f"{queue}{revision_id}/approve", json={}, headers=second_operator)
    assert approved.status_code == 200, approved.text
    review = (await client.get(f"{LISTINGS}{listing_id}/review", headers=owner)).json()
    assert review["outcome"] == "approved" and review["decided_by"] == str(second_account.user.id)
    assert review["automatic"]["outcome"] == "manual_review"
    assert "PRICE.ABNORMALLY_LOW" in {f["rule_id"] for f in review["automatic"]["findings"]}

    # An unclaimed revision is claimed by the operator who decides it.
    listing_id, revision_id = await _to_manual_review(client, session_maker, settings, owner)
    rejected = await client.post(
        f"{queue}{revision_id}/reject",
        json={"reason_codes": ["FALSE_INFORMATION"], "note": "价格明显低于成本"},
        headers=first_operator,
    )
    assert rejected.status_code == 200
    review = (await client.get(f"{LISTINGS}{listing_id}/review", headers=owner)).json()
    assert {f["rule_id"] for f in review["findings"]} == {"MANUAL.FALSE_INFORMATION"}
    assert review["automatic"]["findings"]


# ------------------------------------------------------------ media library and imports with images

IMPORT_HEADER = "brand,model,title,price,unit,stock,energy_cert_no,attr:CPU型号,attr:内存容量,attr:硬盘容量,images"


def _import_row(model: str, images: str) -> str:
    return (
        f"联想,{model},联想 {model} 台式计算机 i5/16G/512G 商用,4599.00,台,5,CQC2023{model},"
        f"i5-12500,16,512,{images}"
    )


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


async def _add_media(client, headers, content: bytes):
    return await client.post(
        "/api/v1/media/", headers=headers, files={"file": ("m.jpg", content, "image/jpeg")}
    )


async def test_the_media_library_is_the_suppliers_own(
    client, signed_in, make_account, login
) -> None:
    owner = await _supplier(make_account, login)
    picture = jpeg()
    added = await _add_media(client, owner, picture)
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["width"] == 1000 and body["media_type"] == "image/jpeg"
    assert (await _add_media(client, owner, picture)).json()["id"] == body["id"]
    refused = await _add_media(client, owner, b"GIF89a not a picture")
    assert refused.status_code == 422 and refused.json()["code"] == "catalog.image_invalid"
    assert [
        m["id"] for m in (await client.get("/api/v1/media/", headers=owner)).json()["items"]
    ] == [body["id"]]
    stranger = await _supplier(make_account, login)
    assert (await client.get(f"/api/v1/media/{body['id']}", headers=stranger)).status_code == 404
    assert (await client.get("/api/v1/media/", headers=stranger)).json()["items"] == []
    for kind in (OrgKind.PURCHASER, OrgKind.OPERATOR):
        assert (await _add_media(client, signed_in[kind], picture)).status_code == 403


async def test_an_import_with_images_puts_its_rows_on_sale(
    client, demo_categories, signed_in, make_account, login, session_maker, settings
) -> None:
    owner = await _supplier(make_account, login)
    stranger = await _supplier(make_account, login)
    mine = (await _add_media(client, owner, jpeg())).json()["id"]
    theirs = (await _add_media(client, stranger, jpeg())).json()["id"]
    tag = uuid.uuid4().hex[:4]
    lines = [
        IMPORT_HEADER,
        _import_row(f"Z{tag}1", "photos/front.jpg;side.png"),
        _import_row(f"Z{tag}2", f"media:{mine}"),
        _import_row(f"Z{tag}3", "missing.jpg"),
        _import_row(f"Z{tag}4", f"media:{theirs}"),
        _import_row(f"Z{tag}5", "broken.jpg"),
        _import_row(f"Z{tag}6", ""),
    ]
    side = io.BytesIO()
    Image.open(io.BytesIO(jpeg())).save(side, "PNG")
    archive = _zip(
        {
            "photos/front.jpg": jpeg(),
            "side.png": side.getvalue(),
            "broken.jpg": b"\xff\xd8\xff junk",
        }
    )
    started = await client.post(
        "/api/v1/listings/import",
        headers=owner,
        data={"category": "A02010104"},
        files={
            "file": ("listings.csv", ("\n".join(lines) + "\n").encode(), "text/csv"),
            "images": ("images.zip", archive, "application/zip"),
        },
    )
    assert started.status_code == 202, started.text
    job = await imports.run(session_maker, settings, uuid.UUID(started.json()["id"]))
    assert (job.accepted, job.failed) == (3, 3)
    result = (await client.get(f"/api/v1/listings/imports/{job.id}", headers=owner)).json()
    errors = {(e["row"], e["column"], e["code"]) for e in result["errors_sample"]}
    assert errors == {
        (4, "images", "image_not_found"),
        (5, "images", "image_not_found"),
        (6, "images", "image_invalid"),
    }
    assert [c["row"] for c in result["listings"]] == [2, 3, 7]
    assert result["listing_ids"] == [c["listing_id"] for c in result["listings"]]
    statuses = {c["row"]: c["status"] for c in result["listings"]}
    assert statuses == {2: "approved", 3: "approved", 7: "rejected"}, result
    first = await client.get(
        f"{LISTINGS}{result['listing_ids'][0]}", headers=signed_in[OrgKind.PURCHASER]
    )
    assert first.status_code == 200 and first.json()["on_sale"] is True
    # The ZIP's images joined the library; the same sheet with another ZIP is another import.
    library = (await client.get("/api/v1/media/", headers=owner)).json()["items"]
    assert {m["filename"] for m in library} >= {"photos/front.jpg", "side.png"}
    other = await client.post(
        "/api/v1/listings/import",
        headers=owner,
        data={"category": "A02010104"},
        files={
            "file": ("listings.csv", ("\n".join(lines) + "\n").encode(), "text/csv"),
            "images": ("images.zip", _zip({"photos/front.jpg": jpeg()}), "application/zip"),
        },
    )
    assert other.status_code == 202 and other.json()["id"] != str(job.id)
    # Another supplier does not see the import.
    assert (
        await client.get(f"/api/v1/listings/imports/{job.id}", headers=stranger)
    ).status_code == 404


async def test_a_broken_archive_is_refused_at_upload(
    client, demo_categories, make_account, login
) -> None:
    owner = await _supplier(make_account, login)
    refused = await client.post(
        "/api/v1/listings/import",
        headers=owner,
        data={"category": "A02010104"},
        files={
            "file": ("listings.csv", (IMPORT_HEADER + "\n").encode(), "text/csv"),
            "images": ("images.zip", b"PK\x03\x04 not really", "application/zip"),
        },
    )
    assert refused.status_code == 422 and refused.json()["code"] == "catalog.import_images_invalid"
