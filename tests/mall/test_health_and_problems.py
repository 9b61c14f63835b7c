"""Liveness, readiness, metrics, OpenAPI, and problem details for bad requests."""

from __future__ import annotations

PROBLEM = "application/problem+json"


async def test_health_and_ready(client) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "postgres": "ok", "redis": "ok"}


async def test_openapi_lists_the_contract(client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    for path in (
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/audit/verify",
        "/api/v1/audit/events",
    ):
        assert path in spec["paths"], path
    assert (await client.get("/schema")).status_code == 200


async def test_metrics_count_requests(client) -> None:
    await client.get("/health")
    text = (await client.get("/metrics")).text
    assert "mall_requests_total" in text


async def test_unknown_route_is_a_404_problem(client) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "route.not_found"
    assert body["status"] == 404
    assert body["title"] and body["detail"] and body["instance"] == "/api/v1/no-such-thing"


async def test_malformed_json_is_400_and_schema_violation_is_422(client) -> None:
    malformed = await client.post(
        "/api/v1/auth/login", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "request.malformed"

    invalid = await client.post("/api/v1/auth/login", json={"email": 42})
    assert invalid.status_code == 422
    body = invalid.json()
    assert body["code"] == "request.validation_failed"
    assert body["errors"][0]["field"] == "email"


async def test_oversize_body_is_413(client) -> None:
    big = b'{"email": "' + b"a" * (1024 * 1024 + 10) + b'", "password": "x"}'
    response = await client.post(
        "/api/v1/auth/login", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request.too_large"


async def test_wrong_method_is_405_problem(client) -> None:
    response = await client.delete("/api/v1/me")
    assert response.status_code == 405
    assert response.json()["code"] == "route.method_not_allowed"


async def test_request_id_is_echoed_and_in_problems(client) -> None:
    response = await client.get("/api/v1/me", headers={"X-Request-ID": "trace-abc-123"})
    assert response.status_code == 401
    assert response.headers["x-request-id"] == "trace-abc-123"
    assert response.json()["request_id"] == "trace-abc-123"


# --- What the client got is what is logged and counted ----------------------------


def _count(metrics_text: str, path: str, status: int, method: str = "GET") -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(metrics_text):
        if family.name != "mall_requests":
            continue
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "mall_requests_total"
                and labels["path"] == path
                and labels["status_code"] == str(status)
                and labels["method"] == method
            ):
                return sample.value
    return 0.0


async def test_error_answers_are_logged_and_counted_as_sent(app, client, settings) -> None:
    """401 from the authentication middleware, 404 for a path no route serves,
    405, 413 and 429: the access log and /metrics show the status the client
    got, not a 500 and not nothing."""
    import dataclasses

    from litestar.testing import AsyncTestClient
    from structlog.testing import CapturingLogger

    from mall.app import create_app

    cases = [
        ("GET", "/api/v1/me", "/api/v1/me", 401, {"headers": {"Authorization": "Bearer bad"}}),
        ("GET", "/api/v1/no-such-route", "<unrouted>", 404, {}),
        ("DELETE", "/api/v1/me", "<unrouted>", 405, {}),
        (
            "POST",
            "/api/v1/auth/login",
            "/api/v1/auth/login",
            413,
            {
                "content": b'{"email": "' + b"a" * (1024 * 1024 + 10) + b'"}',
                "headers": {"content-type": "application/json"},
            },
        ),
    ]
    before = (await client.get("/metrics")).text
    access_log = CapturingLogger()
    observer = app.asgi_handler
    saved, observer.log = observer.log, access_log
    try:
        for method, path, _, status, kwargs in cases:
            response = await client.request(method, path, **kwargs)
            assert response.status_code == status, (path, response.text)
    finally:
        observer.log = saved
    after = (await client.get("/metrics")).text
    logged = [call.kwargs["status"] for call in access_log.calls if call.method_name == "info"]
    assert logged == [status for *_, status, _ in cases]
    for method, _, template, status, _ in cases:
        assert (
            _count(after, template, status, method) == _count(before, template, status, method) + 1
        )

    # 429 from the public rate limiter, in an application allowing one request.
    limited = dataclasses.replace(
        settings, mall=dataclasses.replace(settings.mall, public_requests_per_minute=1)
    )
    async with AsyncTestClient(app=create_app(limited)) as strict:
        statuses = [(await strict.get("/api/v1/public/suppliers")).status_code for _ in range(2)]
        assert statuses == [200, 429]
        text = (await strict.get("/metrics")).text
    assert _count(text, "/api/v1/public/suppliers", 429) >= 1


# --- PostgreSQL unavailable -------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "service_unavailable"
    assert int(response.headers["retry-after"]) > 0


async def _get_with_database_at(settings, redis_url: str, database_url: str, *paths: str):
    from litestar.testing import AsyncTestClient

    from mall.app import create_app

    app = create_app(settings, database_url=database_url, redis_url=redis_url)
    async with AsyncTestClient(app=app) as test_client:
        return [
            await test_client.get(path, headers={"Authorization": "Bearer mall_x"})
            for path in paths
        ]


async def test_database_refusing_connections_is_503(settings, redis_url) -> None:
    """Nothing listens on the port: every operation that needs the database,
    the token check in the middleware included, answers 503 with Retry-After."""
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{_free_port()}/mall"
    for response in await _get_with_database_at(
        settings, redis_url, url, "/api/v1/calendar/years/2026", "/api/v1/me"
    ):
        _assert_unavailable(response)


async def test_database_not_answering_is_503_after_the_connect_timeout(settings, redis_url) -> None:
    import asyncio
    import dataclasses
    import time

    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept, then say nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    quick = dataclasses.replace(
        settings, database=dataclasses.replace(settings.database, connect_timeout=1)
    )
    started = time.monotonic()
    try:
        (response,) = await _get_with_database_at(
            quick,
            redis_url,
            f"postgresql+asyncpg://postgres@127.0.0.1:{port}/mall",
            "/api/v1/calendar/years/2026",
        )
    finally:
        server.close()
        for writer in held:
            writer.close()
    _assert_unavailable(response)
    assert time.monotonic() - started < 10


async def test_database_closed_to_connections_is_503(settings, servers, redis_url) -> None:
    """A database that stops accepting connections while the application holds
    pooled ones: the backends are terminated, new connections refused."""
    import uuid

    from litestar.testing import AsyncTestClient
    from support import admin_sql, with_database

    from mall.app import create_app

    name = f"mall_outage_{uuid.uuid4().hex[:10]}"
    admin = servers.admin_database_url
    admin_sql(admin, f'CREATE DATABASE "{name}"')
    try:
        app = create_app(settings, database_url=with_database(admin, name), redis_url=redis_url)
        async with AsyncTestClient(app=app) as test_client:
            assert (await test_client.get("/ready")).status_code == 200  # a pooled connection
            admin_sql(
                admin,
                f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
            )
            _assert_unavailable(await test_client.get("/api/v1/calendar/years/2026"))
            _assert_unavailable(
                await test_client.get("/api/v1/me", headers={"Authorization": "Bearer mall_x"})
            )
    finally:
        admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
