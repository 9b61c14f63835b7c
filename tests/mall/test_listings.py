"""Listings from creation to a decision, on the real stack."""

from __future__ import annotations

import datetime as dt
import io
import random
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from catalog.categories import seed_demo_categories
from catalog.models import ListingImage
from mall.audit.models import AuditEvent
from mall.auth.models import OrgKind
from mall.listings import service as flow
from pricing_monitor.models import MarketBaseline

LISTINGS = "/api/v1/listings/"


@pytest.fixture(scope="module")
async def demo_categories(session_maker) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)


def jpeg(size=(1000, 1000), background="white", seed: int | None = None) -> bytes:
    """A product photo of its own: an 8x8 grid of random colours in the middle
    of a plain background, so that no two tests' images look alike (their
    perceptual hashes are far apart) unless they mean to."""
    rng = random.Random(seed if seed is not None else uuid.uuid4().int)
    image = Image.new("RGB", size, background)
    w, h = size
    cell_w, cell_h = (3 * w // 5) // 8, (3 * h // 5) // 8
    for row in range(8):
        for col in range(8):
            x, y = w // 5 + col * cell_w, h // 5 + row * cell_h
            colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            image.paste(colour, (x, y, x + cell_w, y + cell_h))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def recompressed(content: bytes) -> bytes:
    """The same picture saved again, smaller and at lower quality: a near copy."""
    image = Image.open(io.BytesIO(content))
    image = image.resize((image.width - 20, image.height - 20))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


def desktop(**overrides) -> dict:
    body = {
        "category_code": "A02010104",
        "brand": "联想",
        "model": f"启天M{uuid.uuid4().hex[:4]}",
        "title": "",
        "attributes": {
            "CPU型号": "i5-12500",
            "内存容量": 16,
            "硬盘容量": 512,
            "操作系统": "国产操作系统",
        },
        "price": "4599.00",
        "unit": "台",
        "stock": 20,
        "warranty_months": 36,
        "energy_cert_no": "CQC20231234567",
    }
    body.update(overrides)
    if not body["title"]:
        body["title"] = f"{body['brand']} {body['model']} 台式计算机 i5-12500/16G/512G 商用办公"
    return body


async def _review(session_maker, settings, revision_id: str) -> str | None:
    async with session_maker() as session, session.begin():
        return await flow.review_revision(session, settings, uuid.UUID(revision_id))


async def _supplier(make_account, login):
    account = await make_account(
        OrgKind.SUPPLIER
    )  # migrated: active, every category, documents valid this year
    return account, await login(account)


async def _with_image(client, headers, listing_id: str, content: bytes) -> dict:
    response = await client.post(
        f"{LISTINGS}{listing_id}/images",
        headers=headers,
        files={"file": ("p.jpg", content, "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_submit_and_approve(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    _, headers = await _supplier(make_account, login)
    created = await client.post(LISTINGS, json=desktop(), headers=headers)
    assert created.status_code == 201, created.text
    listing = created.json()
    assert listing["status"] == "draft" and listing["on_sale"] is False
    await _with_image(client, headers, listing["id"], jpeg())
    submitted = await client.post(f"{LISTINGS}{listing['id']}/submit", headers=headers)
    assert submitted.json()["status"] == "submitted"
    assert await _review(session_maker, settings, submitted.json()["revision"]["id"]) == "approved"
    shown = (await client.get(f"{LISTINGS}{listing['id']}", headers=headers)).json()
    assert shown["status"] == "approved" and shown["on_sale"] is True
    decision = (await client.get(f"{LISTINGS}{listing['id']}/review", headers=headers)).json()
    assert decision["outcome"] == "approved" and decision["ruleset_version"] == "builtin-1"
    assert [f["rule_id"] for f in decision["findings"]] == ["PRICE.NO_BASELINE"]
    async with session_maker() as session:
        image = (
            await session.scalars(
                select(ListingImage).where(ListingImage.listing_id == uuid.UUID(listing["id"]))
            )
        ).one()
        actions = (
            await session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_id == listing["id"])
                .order_by(AuditEvent.id)
            )
        ).all()
    assert (
        image.status == "ready"
        and image.width == 1000
        and image.phash
        and image.border_whiteness > 0.9
    )
    assert set(image.thumbnails) == {"160", "480", "800"}
    assert actions == [
        "listing.created",
        "listing.image_added",
        "listing.submitted",
        "listing.review.approved",
    ]


async def test_rejected_with_reasons(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    _, headers = await _supplier(make_account, login)
    body = desktop(title="联想 启天M437 全网最低价 台式计算机 电话13800471234", energy_cert_no=None)
    listing = (await client.post(LISTINGS, json=body | {"submit": True}, headers=headers)).json()
    assert listing["status"] == "submitted"
    assert await _review(session_maker, settings, listing["revision"]["id"]) == "rejected"
    findings = (await client.get(f"{LISTINGS}{listing['id']}/review", headers=headers)).json()[
        "findings"
    ]
    rules = {f["rule_id"] for f in findings}
    assert {
        "TITLE.ABSOLUTE_TERM",
        "TITLE.CONTACT_INFO",
        "IMAGE.NONE",
        "POLICY.ENERGY_CERT_MISSING",
    } <= rules
    assert all(f["message_zh"] and f["message_en"] for f in findings)
    notes = (await client.get("/api/v1/notifications/", headers=headers)).json()["items"]
    assert "listing.rejected" in [n["kind"] for n in notes]


async def test_price_against_market_and_manual_queue(
    client, demo_categories, make_account, login, session_maker, settings, signed_in
) -> None:
    _, headers = await _supplier(make_account, login)
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
    await _with_image(client, headers, listing["id"], jpeg())
    revision_id = (await client.post(f"{LISTINGS}{listing['id']}/submit", headers=headers)).json()[
        "revision"
    ]["id"]
    assert await _review(session_maker, settings, revision_id) == "manual_review"
    operator = signed_in[OrgKind.OPERATOR]
    queue = (await client.get("/api/v1/operator/review-queue/", headers=operator)).json()["items"]
    assert revision_id in [item["revision_id"] for item in queue]
    assert (await client.get("/api/v1/operator/review-queue/", headers=headers)).status_code == 403
    claimed = await client.post(
        f"/api/v1/operator/review-queue/{revision_id}/claim", headers=operator
    )
    assert claimed.status_code == 200 and claimed.json()["claimed_by"]
    bad = await client.post(
        f"/api/v1/operator/review-queue/{revision_id}/reject", json={"note": "x"}, headers=operator
    )
    assert bad.status_code == 422
    rejected = await client.post(
        f"/api/v1/operator/review-queue/{revision_id}/reject",
        json={"reason_codes": ["FALSE_INFORMATION"], "note": "价格明显低于成本"},
        headers=operator,
    )
    assert rejected.status_code == 200 and rejected.json()["outcome"] == "rejected"
    assert (await client.get(f"{LISTINGS}{listing['id']}", headers=headers)).json()[
        "status"
    ] == "rejected"
    again = await client.post(
        f"/api/v1/operator/review-queue/{revision_id}/approve", json={}, headers=operator
    )
    assert again.status_code == 409


async def test_edit_keeps_the_live_revision_on_sale(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    _, headers = await _supplier(make_account, login)
    listing = (await client.post(LISTINGS, json=desktop(), headers=headers)).json()
    await _with_image(client, headers, listing["id"], jpeg())
    first = (await client.post(f"{LISTINGS}{listing['id']}/submit", headers=headers)).json()[
        "revision"
    ]["id"]
    await _review(session_maker, settings, first)
    edited = await client.patch(
        f"{LISTINGS}{listing['id']}", json={"price": "4399.00"}, headers=headers
    )
    assert edited.status_code == 200 and edited.json()["revision"]["number"] == 2
    assert edited.json()["on_sale"] is True and edited.json()["live_revision_id"] == first
    second = (await client.post(f"{LISTINGS}{listing['id']}/submit", headers=headers)).json()[
        "revision"
    ]["id"]
    assert await _review(session_maker, settings, second) == "approved"
    shown = (await client.get(f"{LISTINGS}{listing['id']}", headers=headers)).json()
    assert shown["live_revision_id"] == second and shown["revision"]["price"] == "4399.00"


async def test_duplicate_listing_is_blocked(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    _, headers = await _supplier(make_account, login)
    body = desktop()
    first = (await client.post(LISTINGS, json=body, headers=headers)).json()
    await _with_image(client, headers, first["id"], jpeg())
    await _review(
        session_maker,
        settings,
        (await client.post(f"{LISTINGS}{first['id']}/submit", headers=headers)).json()["revision"][
            "id"
        ],
    )
    # The same product again, only the price and unit changed (重复铺货).
    second = (
        await client.post(
            LISTINGS,
            json=body | {"price": "4500.00", "model": body["model"].lower()},
            headers=headers,
        )
    ).json()
    await _with_image(client, headers, second["id"], jpeg())
    revision = (await client.post(f"{LISTINGS}{second['id']}/submit", headers=headers)).json()[
        "revision"
    ]["id"]
    assert await _review(session_maker, settings, revision) == "rejected"
    rules = {
        f["rule_id"]
        for f in (await client.get(f"{LISTINGS}{second['id']}/review", headers=headers)).json()[
            "findings"
        ]
    }
    assert "LISTING.DUPLICATE" in rules


async def test_images_by_content(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    _, headers = await _supplier(make_account, login)
    listing = (await client.post(LISTINGS, json=desktop(), headers=headers)).json()
    url = f"{LISTINGS}{listing['id']}/images"
    not_image = await client.post(
        url,
        headers=headers,
        files={"file": ("photo.jpg", b"plain text, not a picture", "image/jpeg")},
    )
    assert not_image.status_code == 422 and not_image.json()["code"] == "catalog.image_invalid"
    truncated = await client.post(
        url, headers=headers, files={"file": ("t.jpg", jpeg()[:3000], "image/jpeg")}
    )
    assert truncated.status_code == 422
    gif = io.BytesIO()
    Image.new("RGB", (900, 900), "white").save(gif, "GIF")
    assert (
        await client.post(
            url, headers=headers, files={"file": ("a.png", gif.getvalue(), "image/png")}
        )
    ).status_code == 422
    bomb = io.BytesIO()
    Image.new("1", (12000, 12000), 1).save(bomb, "PNG")  # 144 megapixels in a few kilobytes
    refused = await client.post(
        url, headers=headers, files={"file": ("bomb.png", bomb.getvalue(), "image/png")}
    )
    assert refused.status_code == 422 and "bomb" in refused.json()["errors"][0]["message"]
    small = await _with_image(client, headers, listing["id"], jpeg(size=(400, 400)))
    assert small["status"] == "pending" and small["position"] == 0
    revision = (await client.post(f"{LISTINGS}{listing['id']}/submit", headers=headers)).json()[
        "revision"
    ]["id"]
    assert await _review(session_maker, settings, revision) == "rejected"
    rules = {
        f["rule_id"]
        for f in (await client.get(f"{LISTINGS}{listing['id']}/review", headers=headers)).json()[
            "findings"
        ]
    }
    assert "IMAGE.TOO_SMALL" in rules


async def test_dark_background_and_reused_image_go_to_a_person(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    _, first_headers = await _supplier(make_account, login)
    original = jpeg(background=(30, 30, 30))
    listing = (await client.post(LISTINGS, json=desktop(), headers=first_headers)).json()
    await _with_image(client, first_headers, listing["id"], original)
    await _review(
        session_maker,
        settings,
        (await client.post(f"{LISTINGS}{listing['id']}/submit", headers=first_headers)).json()[
            "revision"
        ]["id"],
    )

    _, other_headers = await _supplier(make_account, login)
    copy = (
        await client.post(LISTINGS, json=desktop(brand="惠普", title=""), headers=other_headers)
    ).json()
    await _with_image(client, other_headers, copy["id"], recompressed(original))
    revision = (await client.post(f"{LISTINGS}{copy['id']}/submit", headers=other_headers)).json()[
        "revision"
    ]["id"]
    assert await _review(session_maker, settings, revision) == "manual_review"
    rules = {
        f["rule_id"]
        for f in (await client.get(f"{LISTINGS}{copy['id']}/review", headers=other_headers)).json()[
            "findings"
        ]
    }
    assert {"IMAGE.BACKGROUND_NOT_WHITE", "IMAGE.REUSED_FROM_OTHER_SUPPLIER"} <= rules


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"category_code": "Z999"}, "category_code"),
        ({"category_code": "A0201"}, "category_code"),
        ({"price": "-1.00"}, "price"),
        ({"price": "12.345"}, "price"),
        ({"title": "标" * 201}, "title"),
        ({"attributes": {"内存容量": "十六"}}, "attributes.内存容量"),
        ({"attributes": {"颜色": "黑"}}, "attributes.颜色"),
        ({"gtin": "12ab"}, "gtin"),
    ],
)
async def test_bad_listings_are_refused(
    client, demo_categories, make_account, login, overrides, field
) -> None:
    _, headers = await _supplier(make_account, login)
    response = await client.post(LISTINGS, json=desktop(**overrides), headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()
    assert (await client.get(LISTINGS, headers=headers)).json()["items"] == []


async def test_suppliers_cannot_touch_each_others_listings(
    client, demo_categories, make_account, login, signed_in
) -> None:
    _, owner = await _supplier(make_account, login)
    _, other = await _supplier(make_account, login)
    listing = (await client.post(LISTINGS, json=desktop(), headers=owner)).json()
    lid = listing["id"]
    for method, path, body in [
        ("GET", f"{LISTINGS}{lid}", None),
        ("GET", f"{LISTINGS}{lid}/review", None),
        ("PATCH", f"{LISTINGS}{lid}", {"price": "1.00"}),
        ("POST", f"{LISTINGS}{lid}/submit", None),
        ("POST", f"{LISTINGS}{lid}/delist", {"reason": "x"}),
    ]:
        response = await client.request(method, path, json=body, headers=other)
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.get(LISTINGS, headers=other)).json()["items"] == []
    # A purchasing unit sees only what is on sale; the draft is not.
    assert (
        await client.get(f"{LISTINGS}{lid}", headers=signed_in[OrgKind.PURCHASER])
    ).status_code == 404
    assert (
        await client.get(f"{LISTINGS}{lid}/review", headers=signed_in[OrgKind.PURCHASER])
    ).status_code == 403
    assert (
        await client.get(f"{LISTINGS}{lid}", headers=signed_in[OrgKind.REGULATOR])
    ).status_code == 200
    assert (
        await client.post(LISTINGS, json=desktop(), headers=signed_in[OrgKind.PURCHASER])
    ).status_code == 403


async def test_categories_for_signed_in_users(client, demo_categories, signed_in) -> None:
    assert (await client.get("/api/v1/categories/")).status_code == 401
    found = (await client.get("/api/v1/categories/", headers=signed_in[OrgKind.PURCHASER])).json()
    listable = [c for c in found if c["listable"]]
    assert len(listable) >= 12
    desktop_category = next(c for c in found if c["code"] == "A02010104")
    assert (
        desktop_category["name_zh"] == "台式计算机"
        and desktop_category["energy_cert_mandatory"] is True
    )
    ram = next(a for a in desktop_category["attributes"] if a["name"] == "内存容量")
    assert ram == {
        "name": "内存容量",
        "type": "number",
        "unit": "GB",
        "required": True,
        "allowed_values": [],
        "min": 4,
        "max": 1024,
        "pattern": None,
    }


async def test_ruleset_activation_and_dry_run(
    client, demo_categories, make_account, login, session_maker, settings, signed_in
) -> None:
    _, headers = await _supplier(make_account, login)
    listing = (await client.post(LISTINGS, json=desktop(), headers=headers)).json()
    await _with_image(client, headers, listing["id"], jpeg())
    await _review(
        session_maker,
        settings,
        (await client.post(f"{LISTINGS}{listing['id']}/submit", headers=headers)).json()[
            "revision"
        ]["id"],
    )
    operator = signed_in[OrgKind.OPERATOR]
    strict = {"version": f"strict-{uuid.uuid4().hex[:6]}", "settings": {"title_max_length": 20}}
    created = await client.post("/api/v1/rulesets/", json=strict, headers=operator)
    assert created.status_code == 201, created.text
    dup = await client.post("/api/v1/rulesets/", json=strict, headers=operator)
    assert dup.status_code == 409
    bad = await client.post(
        "/api/v1/rulesets/",
        json={"version": "bad", "settings": {"severities": {"NO.SUCH": "block"}}},
        headers=operator,
    )
    assert bad.status_code == 422
    run = await client.post(f"/api/v1/rulesets/{created.json()['id']}/dry-run", headers=operator)
    assert run.status_code == 200
    report = run.json()
    assert (
        report["listings"] >= 1
        and report["changed"] >= 1
        and report["by_rule"]["TITLE.LENGTH"] >= 1
    )
    assert (await client.get(f"{LISTINGS}{listing['id']}", headers=headers)).json()[
        "status"
    ] == "approved"  # nothing changed
    assert (
        await client.post(
            f"/api/v1/rulesets/{created.json()['id']}/activate",
            headers=signed_in[OrgKind.REGULATOR],
        )
    ).status_code == 403
    activated = await client.post(
        f"/api/v1/rulesets/{created.json()['id']}/activate", headers=operator
    )
    assert activated.status_code == 200 and activated.json()["active"] is True
    # Put the builtin behaviour back for the other tests: a ruleset with the defaults.
    default = await client.post(
        "/api/v1/rulesets/",
        json={"version": f"builtin-copy-{uuid.uuid4().hex[:6]}", "settings": {}},
        headers=operator,
    )
    await client.post(f"/api/v1/rulesets/{default.json()['id']}/activate", headers=operator)


async def test_submit_reaches_a_decision_through_the_worker(
    client, demo_categories, make_account, login, settings, database_url, redis_url
) -> None:
    """The real path: commit → outbox → arq → worker job → decision."""
    from arq.worker import Worker

    from mall.jobs.worker import worker_options

    _, headers = await _supplier(make_account, login)
    listing = (await client.post(LISTINGS, json=desktop(), headers=headers)).json()
    await _with_image(client, headers, listing["id"], jpeg())
    await client.post(f"{LISTINGS}{listing['id']}/submit", headers=headers)
    options = worker_options(settings, database_url, redis_url, burst=True)
    options["cron_jobs"] = []
    worker = Worker(**options)
    try:
        await worker.main()
    finally:
        await worker.close()
    shown = (await client.get(f"{LISTINGS}{listing['id']}", headers=headers)).json()
    assert shown["status"] == "approved" and shown["on_sale"] is True


async def test_titles_are_stored_without_invisible_characters_and_bypasses_are_caught(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    _, headers = await _supplier(make_account, login)
    body = desktop()
    body["title"] = f"联想 {body['model']} 國家級 台式计算机 最\u200b佳 电话139 0472 0001"
    created = await client.post(LISTINGS, json=body, headers=headers)
    assert created.status_code == 201, created.text
    listing = created.json()
    assert listing["revision"]["title"] == body["title"].replace("\u200b", "")
    edited = await client.patch(
        f"{LISTINGS}{listing['id']}",
        json={"title": listing["revision"]["title"] + "\u2060\u00ad"},
        headers=headers,
    )
    assert edited.json()["revision"]["title"] == listing["revision"]["title"]
    await _with_image(client, headers, listing["id"], jpeg())
    submitted = await client.post(f"{LISTINGS}{listing['id']}/submit", headers=headers)
    assert await _review(session_maker, settings, submitted.json()["revision"]["id"]) == "rejected"
    findings = (await client.get(f"{LISTINGS}{listing['id']}/review", headers=headers)).json()[
        "findings"
    ]
    evidence = {f["rule_id"]: f["evidence"] for f in findings}
    assert "國家級" in evidence["TITLE.ABSOLUTE_TERM"].split(",")
    assert "最佳" in evidence["TITLE.ABSOLUTE_TERM"].split(",")
    assert evidence["TITLE.CONTACT_INFO"] == "139 0472 0001"
    [note] = [
        n
        for n in (await client.get("/api/v1/notifications/", headers=headers)).json()["items"]
        if n["kind"] == "listing.rejected"
    ]
    assert listing["revision"]["title"][:30] in note["title_zh"]
    assert listing["revision"]["title"][:30] in note["title_en"]
    assert "absolute claims" in note["body_en"] and "contact details" in note["body_en"]
    assert "绝对化用语" in note["body_zh"] and "绝对化用语" not in note["body_en"]


async def test_applicants_read_the_category_tree_without_an_account(
    client, demo_categories
) -> None:
    response = await client.get("/api/v1/public/categories")
    assert response.status_code == 200, response.text
    tree = response.json()
    by_code = {c["code"]: c for c in tree}
    desktop_pc = by_code["A02010104"]
    assert desktop_pc["listable"] is True and desktop_pc["energy_cert_mandatory"] is True
    assert desktop_pc["name_zh"] == "台式计算机"
    # Every parent is in the tree and comes before its children.
    order = [c["code"] for c in tree]
    for node in tree:
        if node["parent_code"] is not None:
            assert order.index(node["parent_code"]) < order.index(node["code"])
            assert by_code[node["parent_code"]]["listable"] is False
    assert "attributes" not in desktop_pc and "price_policy_key" not in desktop_pc


async def test_suppliers_read_the_active_ruleset(
    client, demo_categories, make_account, login, signed_in
) -> None:
    _, headers = await _supplier(make_account, login)
    builtin = (await client.get("/api/v1/rulesets/active", headers=headers)).json()
    assert "国家级" in builtin["absolute_terms"] and "最新" in builtin["ordinary_words"]
    assert {"TITLE.ABSOLUTE_TERM", "IMAGE.NONE"} <= {r["rule_id"] for r in builtin["rules"]}
    operator = signed_in[OrgKind.OPERATOR]
    version = f"terms-{uuid.uuid4().hex[:6]}"
    created = await client.post(
        "/api/v1/rulesets/",
        json={
            "version": version,
            "settings": {
                "title_max_length": 40,
                "absolute_terms": ["国家级", "特供"],
                "enabled": ["TITLE.ABSOLUTE_TERM", "TITLE.LENGTH", "IMAGE.NONE"],
                "severities": {"IMAGE.NONE": "review"},
            },
        },
        headers=operator,
    )
    await client.post(f"/api/v1/rulesets/{created.json()['id']}/activate", headers=operator)
    try:
        shown = await client.get("/api/v1/rulesets/active", headers=headers)
        assert shown.status_code == 200, shown.text
        active = shown.json()
        assert active["version"] == version and active["activated_at"] is not None
        assert active["title_max_length"] == 40 and active["title_min_length"] == 8
        assert active["absolute_terms"] == ["国家级", "特供"]
        assert {r["rule_id"]: r["severity"] for r in active["rules"]} == {
            "TITLE.ABSOLUTE_TERM": "block",
            "TITLE.LENGTH": "block",
            "IMAGE.NONE": "review",
        }
        assert all(r["description"] for r in active["rules"])
        assert (await client.get("/api/v1/rulesets/active")).status_code == 401
    finally:
        default = await client.post(
            "/api/v1/rulesets/",
            json={"version": f"builtin-copy-{uuid.uuid4().hex[:6]}", "settings": {}},
            headers=operator,
        )
        await client.post(f"/api/v1/rulesets/{default.json()['id']}/activate", headers=operator)
