"""Bulk import: template, CSV and XLSX, per-row errors, progress, no duplicates."""

from __future__ import annotations

import io
import uuid

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from catalog.categories import seed_demo_categories
from catalog.models import Listing
from mall.auth.models import OrgKind
from mall.listings import imports

HEADER = (
    "brand,model,title,price,unit,stock,energy_cert_no,attr:CPU型号,attr:内存容量,attr:硬盘容量"
)


@pytest.fixture(scope="module")
async def demo_categories(session_maker) -> None:
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)


def good_row(i: int, tag: str) -> str:
    return f"联想,启天M{tag}{i},联想 启天M{tag}{i} 台式计算机 i5/16G/512G 商用,4599.00,台,5,CQC2023{i},i5-12500,16,512"


async def _run(session_maker, settings, import_id: str):
    return await imports.run(session_maker, settings, uuid.UUID(import_id))


async def _upload(
    client, headers, content: bytes, name: str = "listings.csv", category: str = "A02010104"
):
    return await client.post(
        "/api/v1/listings/import",
        headers=headers,
        data={"category": category},
        files={"file": (name, content, "text/csv")},
    )


async def test_template_lists_the_category_columns(
    client, demo_categories, make_account, login
) -> None:
    headers = await login(await make_account(OrgKind.SUPPLIER))
    response = await client.get(
        "/api/v1/listings/import/template", params={"category": "A0206180203"}, headers=headers
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    columns = [c.value for c in next(sheet.iter_rows(max_row=1))]
    assert columns[:5] == ["category_code", "brand", "model", "title", "price"]
    assert {"attr:制冷量", "attr:能效等级", "attr:类型", "attr:变频"} <= set(columns)
    assert (
        await client.get(
            "/api/v1/listings/import/template", params={"category": "Z1"}, headers=headers
        )
    ).status_code == 404


async def test_csv_import_with_bad_rows_and_no_duplicates(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    supplier = await make_account(OrgKind.SUPPLIER)
    headers = await login(supplier)
    tag = uuid.uuid4().hex[:4]
    lines = (
        [HEADER]
        + [good_row(i, tag) for i in range(5)]
        + [
            f"联想,X{tag}1,短,abc,台,1,,i5,16,512",  # bad price
            f",X{tag}2,没有品牌的商品标题很长很长,10.00,台,1,,i5,16,512",  # no brand
            f"联想,X{tag}3,联想 X{tag}3 台式计算机 i5/16G/512G 商用,10.005,台,1,,i5,十六,512",  # 3 decimals, bad RAM
            "",
        ]
    )
    content = ("\n".join(lines) + "\n").encode()
    started = await _upload(client, headers, content)
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["status"] == "queued"
    job = await _run(session_maker, settings, body["id"])
    assert (job.accepted, job.failed) == (5, 3)
    progress = (await client.get(f"/api/v1/listings/imports/{body['id']}", headers=headers)).json()
    assert progress["status"] == "done" and progress["rows_done"] == progress["rows_total"]
    assert sum(progress["outcomes"].values()) == 5
    cells = {(e["row"], e["column"]) for e in progress["errors_sample"]}
    assert {(7, "price"), (8, "brand"), (9, "price"), (9, "attr:内存容量")} <= cells

    report = await client.get(f"/api/v1/listings/imports/{body['id']}/errors.xlsx", headers=headers)
    rows = list(load_workbook(io.BytesIO(report.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "行 row" and len(rows) - 1 == len(progress["errors_sample"])

    again = await _upload(client, headers, content)
    assert again.json()["id"] == body["id"]  # the same file is the same import
    await _run(session_maker, settings, body["id"])
    async with session_maker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Listing)
            .where(Listing.supplier_id == supplier.user.org_id)
        )
    assert count == 5
    listed = (await client.get("/api/v1/listings/", headers=headers)).json()["items"]
    assert {item["status"] for item in listed} == {
        "rejected"
    }  # imported without images: IMAGE.NONE


async def test_xlsx_import_and_duplicates_within_the_file(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    headers = await login(await make_account(OrgKind.SUPPLIER))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(","))
    tag = uuid.uuid4().hex[:4]
    for _ in range(2):  # the same product twice
        sheet.append(
            [
                "联想",
                f"启天M{tag}",
                f"联想 启天M{tag} 台式计算机 i5/16G/512G 商用",
                4599,
                "台",
                5,
                "CQC1",
                "i5-12500",
                16,
                512,
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    started = await _upload(client, headers, buffer.getvalue(), name="listings.xlsx")
    assert started.status_code == 202, started.text
    job = await _run(session_maker, settings, started.json()["id"])
    assert job.accepted == 2 and job.failed == 0
    listed = (await client.get("/api/v1/listings/", headers=headers)).json()["items"]
    findings = [
        (await client.get(f"/api/v1/listings/{item['id']}/review", headers=headers)).json()[
            "findings"
        ]
        for item in listed
    ]
    assert sum("LISTING.DUPLICATE" in {f["rule_id"] for f in fs} for fs in findings) == 1


@pytest.mark.parametrize(
    ("content", "name", "code"),
    [
        (b"", "empty.csv", "catalog.import_empty"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx", "catalog.import_unreadable"),
        (b"foo,bar\n1,2\n", "wrong.csv", "catalog.import_columns"),
        (b"\x00\x01\x02binary", "x.bin", "catalog.import_format"),
    ],
)
async def test_malformed_files_are_refused(
    client, demo_categories, make_account, login, content, name, code
) -> None:
    headers = await login(await make_account(OrgKind.SUPPLIER))
    response = await _upload(client, headers, content, name=name)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code


async def test_ten_thousand_bad_rows(
    client, demo_categories, make_account, login, session_maker, settings
) -> None:
    headers = await login(await make_account(OrgKind.SUPPLIER))
    lines = [HEADER] + [f"联想,M{i},标题,not-a-price,台,1,,i5,16,512" for i in range(10_000)]
    started = await _upload(client, headers, ("\n".join(lines)).encode())
    job = await _run(session_maker, settings, started.json()["id"])
    assert (job.accepted, job.failed, job.rows_done) == (0, 10_000, 10_000)
    assert (
        await client.get(
            f"/api/v1/listings/imports/{started.json()['id']}/errors.xlsx", headers=headers
        )
    ).status_code == 200


async def test_another_supplier_cannot_see_an_import(
    client, demo_categories, make_account, login
) -> None:
    owner = await login(await make_account(OrgKind.SUPPLIER))
    other = await login(await make_account(OrgKind.SUPPLIER))
    started = await _upload(
        client, owner, (HEADER + "\n" + good_row(1, uuid.uuid4().hex[:4]) + "\n").encode()
    )
    assert (
        await client.get(f"/api/v1/listings/imports/{started.json()['id']}", headers=other)
    ).status_code == 404
