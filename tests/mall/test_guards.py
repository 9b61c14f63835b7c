"""Every guarded endpoint, for every role and for anonymous callers."""

from __future__ import annotations

import pytest

from mall.auth.models import OrgKind

S, P, O, R = OrgKind.SUPPLIER, OrgKind.PURCHASER, OrgKind.OPERATOR, OrgKind.REGULATOR

# (method, path, body, kinds allowed)
MATRIX = [
    ("GET", "/api/v1/me", None, {S, P, O, R}),
    ("GET", "/api/v1/notifications/", None, {S, P, O, R}),
    ("GET", "/api/v1/rulesets/active", None, {S, P, O, R}),
    ("GET", "/api/v1/auth/api-tokens/", None, {S, O}),
    ("POST", "/api/v1/auth/api-tokens/", {"name": "guard test"}, {S, O}),
    ("GET", "/api/v1/audit/events", None, {O, R}),
    ("GET", "/api/v1/audit/verify", None, {O, R}),
    ("GET", "/api/v1/stats/sla", None, {O, R}),
    ("GET", "/api/v1/stats/suppliers", None, {O, R}),
    ("GET", "/api/v1/operator/supplier-applications", None, {O, R}),
    ("GET", "/api/v1/suppliers/documents", None, {S}),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), MATRIX)
async def test_roles(client, signed_in, method, path, body, allowed) -> None:
    anonymous = await client.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "auth.unauthenticated"
    for kind in OrgKind:
        response = await client.request(method, path, json=body, headers=signed_in[kind])
        if kind in allowed:
            assert response.status_code in (200, 201), (kind, response.text)
        else:
            assert response.status_code == 403, (kind, response.text)
            assert response.json()["code"] in ("auth.forbidden", "auth.api_token_kind")
