"""Conventions every endpoint shares: timestamps, list parameters and pages, the OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

from mall.auth.models import OrgKind
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
