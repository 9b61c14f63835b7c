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
