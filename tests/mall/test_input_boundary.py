"""Classes of input refused once at the boundary: NUL characters, integers beyond
their column, deep JSON, the wrong content type, values the database refuses."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar

from mall.auth.models import OrgKind

PROBLEM = "application/problem+json"
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def _field_error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    assert body["errors"], body
    return body["errors"][0]


# --- NUL characters ---------------------------------------------------------------


async def test_nul_in_a_json_string_is_422_naming_the_field(client) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": "a\u0000b@example.com", "password": "x"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "request.nul_character"
    error = _field_error(response)
    assert error["field"] == "email" and error["source"] == "body"
    assert error["message_zh"]


async def test_nul_in_a_nested_field_and_in_a_key_is_named(client, signed_in) -> None:
    headers = signed_in[OrgKind.PURCHASER]
    nested = await client.post(
        "/api/v1/orders",
        json={"lines": [{"listing_id": "x", "quantity": 1, "note": "a\u0000"}]},
        headers=headers,
    )
    assert nested.status_code == 422
    assert _field_error(nested)["field"] == "lines[0].note"
    key = await client.post("/api/v1/auth/login", json={"e\u0000": 1})
    assert key.status_code == 422
    assert _field_error(key)["field"] == "e\u0000"


async def test_nul_in_a_token_name_is_422(client, signed_in) -> None:
    response = await client.post(
        "/api/v1/auth/api-tokens", json={"name": "ci\u0000"}, headers=signed_in[OrgKind.SUPPLIER]
    )
    assert response.status_code == 422, response.text
    assert _field_error(response)["field"] == "name"


async def test_nul_in_the_query_and_the_path_is_422(client, signed_in) -> None:
    query = await client.get("/api/v1/catalog/search?q=%00", headers=signed_in[OrgKind.PURCHASER])
    assert query.status_code == 422, query.text
    assert _field_error(query) | {"message_zh": ""} == {
        "field": "q",
        "source": "query",
        "message": "must not contain the NUL character (U+0000)",
        "message_zh": "",
    }
    path = await client.get("/api/v1/public/cases/abc%00def")
    assert path.status_code == 422, path.text
    assert _field_error(path)["field"] == "tracking_code"
    assert _field_error(path)["source"] == "path"


# --- Integers beyond their column -----------------------------------------------


async def test_stock_beyond_int4_is_422(client, signed_in) -> None:
    response = await client.post(
        "/api/v1/listings",
        json={
            "category_code": "C01",
            "brand": "b",
            "model": "m",
            "title": "t",
            "price": "1.00",
            "unit": "台",
            "stock": 2**31,
        },
        headers=signed_in[OrgKind.SUPPLIER],
    )
    assert response.status_code == 422, response.text
    error = next(e for e in response.json()["errors"] if e["field"] == "stock")
    assert error["message"] == f"Expected `int` <= {INT32_MAX}"
    assert error["message_zh"] == f"应不大于 {INT32_MAX}"


async def test_offset_beyond_int8_is_422(client, signed_in) -> None:
    response = await client.get(
        f"/api/v1/orders?offset={2**63}", headers=signed_in[OrgKind.OPERATOR]
    )
    assert response.status_code == 422, response.text
    assert _field_error(response)["field"] == "offset"
    cursor = await client.get(
        f"/api/v1/audit/events?before_id={2**63}", headers=signed_in[OrgKind.OPERATOR]
    )
    assert cursor.status_code == 422, cursor.text
    assert _field_error(cursor)["field"] == "before_id"


def _integer_schemas(schema: Any, spec: dict[str, Any], path: str, seen: set[str], bound=None):
    """Every integer schema reachable from this one, with where it was found and
    its maximum (Litestar puts a union's bounds beside its ``oneOf``)."""
    if isinstance(schema, dict):
        bound = schema.get("maximum", bound)
        ref = schema.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                yield from _integer_schemas(
                    spec["components"]["schemas"][name], spec, name, seen | {name}
                )
            return
        types = schema.get("type")
        is_integer = types == "integer" or (isinstance(types, list) and "integer" in types)
        if is_integer and "enum" not in schema:  # an enumeration is bounded by its values
            yield path, bound
        for key, value in schema.items():
            if key == "properties":
                for prop, sub in value.items():
                    yield from _integer_schemas(sub, spec, f"{path}.{prop}", seen)
            elif key in ("items", "additionalProperties"):
                yield from _integer_schemas(value, spec, f"{path}[]", seen)
            elif key in ("oneOf", "anyOf", "allOf"):
                for sub in value:
                    yield from _integer_schemas(sub, spec, path, seen, bound)


async def test_every_integer_a_client_sends_is_bounded(client) -> None:
    """Each integer in a parameter or request body has a maximum that fits the
    widest column (int8), so none reaches the database out of range."""
    spec = (await client.get("/schema/openapi.json")).json()
    unbounded = []
    for route, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            found = []
            for parameter in operation.get("parameters", []):
                found += _integer_schemas(
                    parameter.get("schema", {}), spec, parameter["name"], set()
                )
            for media in operation.get("requestBody", {}).get("content", {}).values():
                found += _integer_schemas(media.get("schema", {}), spec, "body", set())
            for where, maximum in found:
                # Litestar writes bounds as floats: float(2**63 - 1) is 2.0**63.
                if maximum is None or float(maximum) > float(INT64_MAX):
                    unbounded.append(f"{method.upper()} {route} {where}")
    # A listing's attributes are free JSON values; the bound on their integers
    # is enforced (test_a_huge_integer_attribute_is_422) but a union inside a
    # mapping loses it in the document.
    unbounded = [u for u in unbounded if not u.endswith(".attributes[]")]
    assert not unbounded, "\n".join(unbounded)


async def test_a_huge_integer_attribute_is_422(client, signed_in) -> None:
    response = await client.post(
        "/api/v1/listings",
        json={
            "category_code": "C01",
            "brand": "b",
            "model": "m",
            "title": "t",
            "price": "1.00",
            "unit": "台",
            "attributes": {"pages": 2**70},
        },
        headers=signed_in[OrgKind.SUPPLIER],
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"].startswith("attributes")


# --- Database refusals and the calendar's years ------------------------------------


async def test_a_calendar_year_outside_the_range_is_422(client, signed_in) -> None:
    put = await client.put(
        "/api/v1/calendar/years/0",
        json={"holidays": [], "workdays": [], "source": "x"},
        headers=signed_in[OrgKind.OPERATOR],
    )
    assert put.status_code == 422, put.text
    assert _field_error(put)["field"] == "year"
    assert (await client.get("/api/v1/calendar/years/0")).status_code == 422
    assert (await client.get("/api/v1/calendar/years/99999")).status_code == 422


@pytest.fixture(scope="module")
def refusal_app(database_url: str) -> Litestar:
    """An application with the mall's error mapping and handlers that send the
    database what it refuses, through SQLAlchemy and through asyncpg directly."""
    import asyncpg
    from litestar import get
    from litestar.params import FromPath
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool
    from support import plain_dsn

    from mall.problems import exception_handlers

    engine = create_async_engine(database_url, poolclass=NullPool)
    statements = {
        "check": "INSERT INTO t VALUES (0)",
        "unique": "INSERT INTO t VALUES (1), (1)",
        "not_null": "INSERT INTO t VALUES (NULL)",
        "range": "SELECT 2147483648::int4",
        "nul": "SELECT E'a' || chr(0)",
    }
    setup = "CREATE TEMP TABLE t (x int NOT NULL UNIQUE CHECK (x > 0))"

    @get("/sqlalchemy/{kind:str}")
    async def via_sqlalchemy(kind: FromPath[str]) -> None:
        async with engine.begin() as connection:
            await connection.execute(text(setup))
            await connection.execute(text(statements[kind]))

    @get("/asyncpg/{kind:str}")
    async def via_asyncpg(kind: FromPath[str]) -> None:
        connection = await asyncpg.connect(plain_dsn(database_url))
        try:
            await connection.execute(setup)
            await connection.execute(statements[kind])
        finally:
            await connection.close()

    return Litestar([via_sqlalchemy, via_asyncpg], exception_handlers=exception_handlers)


@pytest.mark.parametrize("driver", ["sqlalchemy", "asyncpg"])
@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("check", 422, "request.constraint_violated"),
        ("not_null", 422, "request.constraint_violated"),
        ("unique", 409, "conflict.duplicate"),
        ("range", 422, "request.value_rejected"),
    ],
)
async def test_database_refusals_are_problems_not_500(
    refusal_app, driver, kind, status, code
) -> None:
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=refusal_app) as test_client:
        response = await test_client.get(f"/{driver}/{kind}")
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.headers["content-type"].startswith(PROBLEM)


# --- Body shape and content type ---------------------------------------------------


async def test_deeply_nested_json_is_400(client) -> None:
    for depth in (100, 5000):
        body = b"[" * depth + b"]" * depth
        response = await client.post(
            "/api/v1/auth/login", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (depth, response.text)
        assert response.json()["code"] == "request.nesting_too_deep"


async def test_a_form_encoded_login_is_415(client) -> None:
    response = await client.post("/api/v1/auth/login", data={"email": "a@b.cn", "password": "x"})
    assert response.status_code == 415, response.text
    assert response.json()["code"] == "request.unsupported_media_type"


async def test_json_sent_as_text_plain_is_415(client) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        content=b'{"email": "a@b.cn", "password": "x"}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 415, response.text
    vendor = await client.post(
        "/api/v1/auth/login",
        content=b'{"email": "nobody@example.com", "password": "wrong-password"}',
        headers={"content-type": "application/problem+json; charset=utf-8"},
    )
    assert vendor.status_code == 401, vendor.text


async def test_an_unknown_field_is_named(client, signed_in) -> None:
    response = await client.post(
        "/api/v1/auth/api-tokens",
        json={"name": "ci", "colour": "red"},
        headers=signed_in[OrgKind.SUPPLIER],
    )
    assert response.status_code == 422, response.text
    error = _field_error(response)
    assert error["field"] == "colour"
    assert error["message_zh"] == "不接受未定义的字段 colour"


async def test_field_errors_come_in_both_languages(client) -> None:
    wrong_type = await client.post("/api/v1/auth/login", json={"email": 42, "password": "x"})
    error = _field_error(wrong_type)
    assert error["message"] == "Expected `str`, got `int`"
    assert error["message_zh"] == "类型应为字符串，实际为整数"
    missing = await client.post("/api/v1/auth/login", json={"email": "a@b.cn"})
    error = _field_error(missing)
    assert error["field"] == "password"
    assert error["message_zh"] == "缺少必填字段 password"


async def test_every_field_error_has_message_zh(client) -> None:
    """Errors raised by the mall's own checks carry Chinese too: their own, or
    the problem's title when a check gave none."""
    bad_date = await client.get("/api/v1/calendar/working-days?from=soon&to=2026-01-01")
    assert bad_date.status_code == 422
    assert _field_error(bad_date)["message_zh"] == "应为日期（YYYY-MM-DD）"
    reversed_range = await client.get("/api/v1/calendar/working-days?from=2026-02-01&to=2026-01-01")
    assert reversed_range.status_code == 422
    error = _field_error(reversed_range)
    assert error["message"] == "must not be before from"
    assert error["message_zh"] == reversed_range.json()["title"] == "结束日期早于开始日期"


# A carriage return inside an unquoted CSV field (found by the schemathesis run):
# every CSV import reads its file with the csv module's own line handling and
# answers a malformed one as a problem, never a 500.
MALFORMED_CSV = "\x11\rT다耷ÿy\x07\U000f3b88\x16J".encode()


async def test_a_malformed_csv_is_a_problem_on_every_import(client, signed_in) -> None:
    operator = signed_in[OrgKind.OPERATOR] | {"Content-Type": "text/csv"}
    credit = await client.post(
        "/api/v1/credit/lists/import", content=MALFORMED_CSV, headers=operator
    )
    assert credit.status_code == 422, credit.text
    assert credit.headers["content-type"].startswith(PROBLEM)
    # Observations: the file is read, its one row refused with its reason.
    observed = await client.post(
        "/api/v1/pricing/observations/import", content=MALFORMED_CSV, headers=operator
    )
    assert observed.status_code == 200, observed.text
    assert observed.json()["accepted"] == 0 and observed.json()["rejected"] == 1
    listing_import = await client.post(
        "/api/v1/listings/import",
        data={"category": "A020201"},
        files={"file": ("bad.csv", b'title,brand\r\n"a\rb,c\n' + MALFORMED_CSV, "text/csv")},
        headers=signed_in[OrgKind.SUPPLIER],
    )
    assert listing_import.status_code < 500, listing_import.text
