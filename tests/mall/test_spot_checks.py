"""Spot checks: the draw is a pure, documented function of the seed and the
published population; anyone recomputes it from the public endpoint."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from support import reveal_time_reached

from mall import audit
from mall.auth.models import OrgKind
from mall.spotchecks import draw
from mall.spotchecks.models import SpotCheck

SPOT = "/api/v1/spot-checks/"


def recompute(
    seed: str, beacon: str | None, ids: list[str], k: int, label: str = "item"
) -> list[str]:
    """The documented selection, written again from the description alone."""
    key = (seed if beacon is None else f"{seed}:{beacon}").encode()
    keyed = sorted(
        (hmac.new(key, f"{label}:{i}".encode(), hashlib.sha256).hexdigest(), i) for i in set(ids)
    )
    return [i for _, i in keyed[:k]]


def readme_draw() -> Any:
    """The ``draw`` function printed in the README, run as it is printed."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Random spot checks") :]
    snippet = section[section.index("```python") + len("```python") : section.index("```\n\n")]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    return namespace["draw"]


def test_the_draw_is_the_documented_function() -> None:
    ids = [str(uuid.uuid4()) for _ in range(200)]
    seed = secrets.token_hex(16)
    chosen = draw.draw(seed, ids, 10)
    assert chosen == recompute(seed, None, ids, 10)
    beacon = secrets.token_hex(32)
    mixed = draw.draw(draw.draw_key(seed, beacon), ids, 10)
    assert mixed == recompute(seed, beacon, ids, 10) == readme_draw()(seed, beacon, ids, 10)
    assert mixed != chosen  # the beacon changes the draw: the seed alone does not decide it
    assert draw.draw(seed, list(reversed(ids)) + ids[:5], 10) == chosen  # order and repeats
    assert draw.draw(seed + "x", ids, 10) != chosen
    assert draw.digest(ids) == hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
    assert draw.commitment("种子") == hashlib.sha256("种子".encode()).hexdigest()
    assert draw.assign(["a", "b", "c"], ["x", "y"]) == [("a", "x"), ("b", "y"), ("c", "x")]
    for k in (0, 201):
        with pytest.raises(ValueError):
            draw.draw(seed, ids, k)


async def _count(session_maker) -> int:
    async with session_maker() as session:
        return await session.scalar(select(func.count()).select_from(SpotCheck))


async def test_commit_reveal_recompute_and_findings(
    client, signed_in, make_account, login, session_maker
) -> None:
    for _ in range(4):
        await make_account(OrgKind.SUPPLIER)
    regulator_org = f"财政局监督检查科{uuid.uuid4().hex[:6]}"
    inspectors = [await make_account(OrgKind.REGULATOR, regulator_org) for _ in range(3)]
    lead = await login(inspectors[0])
    seed = secrets.token_urlsafe(24)
    defined = await client.post(
        SPOT,
        json={
            "name": "2026年第四季度供应商履约抽查",
            "population": "suppliers",
            "sample_size": 3,
            "inspector_count": 2,
            "seed_sha256": draw.commitment(seed),
        },
        headers=lead,
    )
    assert defined.status_code == 201, defined.text
    check = defined.json()
    assert check["status"] == "committed" and check["seed"] is None and check["items"] == []
    assert len(check["population_ids"]) >= 4
    assert check["population_sha256"] == draw.digest(check["population_ids"])
    assert sorted(check["inspector_pool"]) == sorted(str(a.user.id) for a in inspectors)

    # The public sees the commitment and the snapshot before the reveal.
    public = (await client.get(f"/api/v1/public/spot-checks/{check['id']}")).json()
    assert public["population_ids"] == check["population_ids"] and public["seed"] is None

    # Only a regulator defines; a tampered reveal changes nothing.
    assert (
        await client.post(SPOT, json={}, headers=signed_in[OrgKind.OPERATOR])
    ).status_code == 403
    tampered = await client.post(
        f"{SPOT}{check['id']}/reveal", json={"seed": seed + "!"}, headers=lead
    )
    assert tampered.status_code == 422 and tampered.json()["code"] == "spotcheck.seed_mismatch"
    other_regulator = await client.post(
        f"{SPOT}{check['id']}/reveal", json={"seed": seed}, headers=signed_in[OrgKind.REGULATOR]
    )
    assert other_regulator.status_code == 403
    assert (await client.get(f"/api/v1/public/spot-checks/{check['id']}")).json()[
        "status"
    ] == "committed"
    # The reveal waits for the time fixed at commit, at least an hour later.
    committed_at = dt.datetime.fromisoformat(check["created_at"])
    reveal_after = dt.datetime.fromisoformat(check["reveal_after"])
    assert reveal_after - committed_at >= dt.timedelta(hours=1)
    early = await client.post(f"{SPOT}{check['id']}/reveal", json={"seed": seed}, headers=lead)
    assert early.status_code == 409 and early.json()["code"] == "spotcheck.reveal_too_early"
    assert early.json()["reveal_after"]

    moment = dt.datetime.fromisoformat(await reveal_time_reached(session_maker, check["id"]))
    # Events recorded after the reveal time do not change the beacon.
    async with session_maker() as session, session.begin():
        await audit.record(
            session,
            actor=audit.SYSTEM,
            action="test.after_reveal_time",
            subject_type="test",
            subject_id="after",
        )
    another = {"name": "另一次抽查", "population": "suppliers", "sample_size": 1}
    assert (
        await client.post(SPOT, json=another | {"seed_sha256": draw.commitment("x")}, headers=lead)
    ).status_code == 201
    revealed = await client.post(f"{SPOT}{check['id']}/reveal", json={"seed": seed}, headers=lead)
    assert revealed.status_code == 200, revealed.text
    again = await client.post(f"{SPOT}{check['id']}/reveal", json={"seed": seed}, headers=lead)
    assert again.status_code == 409

    # Anyone recomputes the selection and the inspectors from the public data.
    public = (await client.get(f"/api/v1/public/spot-checks/{check['id']}")).json()
    assert hashlib.sha256(public["seed"].encode()).hexdigest() == public["seed_sha256"]
    assert draw.digest(public["population_ids"]) == public["population_sha256"]
    # The beacon is the audit chain's head at the reveal time: the last event before
    # it that the regulator's own organisation did not record.
    regulator = inspectors[0].user.org_id
    async with session_maker() as session:
        head, after = (
            await session.execute(
                text(
                    "SELECT (SELECT max(id) FROM audit_event WHERE occurred_at < :t"
                    "   AND actor_org_id IS DISTINCT FROM :org),"
                    " (SELECT min(occurred_at) FROM audit_event WHERE id > :id"
                    "   AND actor_org_id IS DISTINCT FROM :org)"
                ),
                {"t": moment, "id": public["beacon_audit_id"], "org": regulator},
            )
        ).one()
        beacon_hash = await session.scalar(
            text("SELECT hash FROM audit_event WHERE id = :id"), {"id": public["beacon_audit_id"]}
        )
    assert public["beacon_audit_id"] == head and public["beacon_hash"] == beacon_hash
    assert after >= moment
    beacon = public["beacon_hash"]
    items = recompute(public["seed"], beacon, public["population_ids"], public["sample_size"])
    assert items == readme_draw()(
        public["seed"], beacon, public["population_ids"], public["sample_size"]
    )
    drawn_inspectors = recompute(
        public["seed"], beacon, public["inspector_pool"], public["inspector_count"], "inspector"
    )
    assert [i["subject_id"] for i in public["items"]] == items
    assert [i["inspector_user_id"] for i in public["items"]] == [
        drawn_inspectors[n % len(drawn_inspectors)] for n in range(len(items))
    ]

    # Each drawn inspector records the findings of its items; nobody else can.
    by_user = {str(a.user.id): a for a in inspectors}
    first = public["items"][0]
    outsider = next(a for a in inspectors if str(a.user.id) not in drawn_inspectors)
    refused = await client.post(
        f"{SPOT}{check['id']}/items/{first['id']}/finding",
        json={"finding": "conforming"},
        headers=await login(outsider),
    )
    assert refused.status_code == 403
    for n, item in enumerate(public["items"]):
        headers = await login(by_user[item["inspector_user_id"]])
        recorded = await client.post(
            f"{SPOT}{check['id']}/items/{item['id']}/finding",
            json={"finding": "nonconforming" if n == 0 else "conforming", "note": "现场核查"},
            headers=headers,
        )
        assert recorded.status_code == 200, recorded.text
    results = (await client.get(f"/api/v1/public/spot-checks/{check['id']}")).json()
    assert results["status"] == "completed"
    assert [i["finding"] for i in results["items"]] == ["nonconforming", "conforming", "conforming"]
    listed = (await client.get("/api/v1/public/spot-checks")).json()["items"]
    assert check["id"] in [c["id"] for c in listed]


async def test_bad_draws_are_refused(client, signed_in, session_maker) -> None:
    regulator = signed_in[OrgKind.REGULATOR]
    before = await _count(session_maker)
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=59)).isoformat()
    base = {
        "name": "抽查",
        "population": "suppliers",
        "sample_size": 1,
        "seed_sha256": draw.commitment("s"),
    }
    cases = [
        (base | {"sample_size": 10_000}, 422, "spotcheck.draw_invalid"),
        (base | {"inspector_count": 50}, 422, "spotcheck.draw_invalid"),
        (base | {"inspector_pool": [str(uuid.uuid4())]}, 422, "spotcheck.draw_invalid"),
        (base | {"seed_sha256": "abc"}, 422, "request.validation_failed"),
        (base | {"sample_size": 0}, 422, "request.validation_failed"),
        (base | {"population": "everything"}, 422, "request.validation_failed"),
        (
            base | {"population": "completed_orders", "filters": {"completed_from": "soon"}},
            422,
            "spotcheck.filters_invalid",
        ),
        (
            base | {"population": "completed_orders", "filters": {"supplier_id": "x"}},
            422,
            "spotcheck.filters_invalid",
        ),
        (base | {"filters": {"colour": "red"}}, 422, "spotcheck.filters_invalid"),
        (base | {"reveal_after": soon}, 422, "spotcheck.reveal_time_invalid"),
        (base | {"reveal_after": "2026-12-31T10:00:00"}, 422, "spotcheck.reveal_time_invalid"),
        (
            base | {"population": "suppliers", "filters": {"region_prefix": "99"}},
            422,
            "spotcheck.draw_invalid",
        ),
    ]
    for body, status, code in cases:
        response = await client.post(SPOT, json=body, headers=regulator)
        assert response.status_code == status, (body, response.text)
        assert response.json()["code"] == code, (body, response.text)
    assert await _count(session_maker) == before


def test_the_draw_and_the_score_import_without_the_mall() -> None:
    code = (
        "import sys, mall.spotchecks.draw, mall.penalties.score;"
        "bad = {'litestar', 'sqlalchemy', 'arq', 'redis'} & {m.split('.')[0] for m in sys.modules};"
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("population", "filters", "field"),
    [
        ("suppliers", {"region_prefix": ["15"]}, "filters.region_prefix"),
        ("suppliers", {"region_prefix": 15}, "filters.region_prefix"),
        ("suppliers", {"in_region": "false"}, "filters.in_region"),
        ("suppliers", {"in_region": 0}, "filters.in_region"),
        ("live_listings", {"category_prefix": {"code": "A09"}}, "filters.category_prefix"),
        ("live_listings", {"supplier_region_prefix": ["15"]}, "filters.supplier_region_prefix"),
        ("completed_orders", {"completed_to": "9999-12-31"}, "filters.completed_to"),
        ("completed_orders", {"completed_from": "0001-01-01"}, "filters.completed_from"),
        ("completed_orders", {"completed_from": 20260101}, "filters.completed_from"),
        ("completed_orders", {"supplier_id": 7}, "filters.supplier_id"),
        ("completed_orders", {"category_prefix": ["A09"]}, "filters.category_prefix"),
    ],
)
async def test_filters_of_the_wrong_type_are_refused_by_name(
    client, signed_in, session_maker, population, filters, field
) -> None:
    before = await _count(session_maker)
    response = await client.post(
        SPOT,
        json={
            "name": "抽查",
            "population": population,
            "sample_size": 1,
            "seed_sha256": draw.commitment("s"),
            "filters": filters,
        },
        headers=signed_in[OrgKind.REGULATOR],
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "spotcheck.filters_invalid"
    assert [e["field"] for e in problem["errors"]] == [field]
    assert field.removeprefix("filters.") in problem["detail"]
    assert await _count(session_maker) == before


async def test_typed_filters_are_applied(client, signed_in, make_account) -> None:
    await make_account(OrgKind.SUPPLIER)
    for filters in ({"in_region": False, "region_prefix": "15"}, {"in_region": True}):
        response = await client.post(
            SPOT,
            json={
                "name": "抽查",
                "population": "suppliers",
                "sample_size": 1,
                "seed_sha256": draw.commitment("s"),
                "filters": filters,
            },
            headers=signed_in[OrgKind.REGULATOR],
        )
        # Accepted as filters: the draw is made, or refused only for its size.
        assert response.status_code in (201, 422), response.text
        if response.status_code == 422:
            assert response.json()["code"] == "spotcheck.draw_invalid"
