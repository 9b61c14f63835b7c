"""Large market-observation imports: set-based in the request up to 10,000 rows,
a resumable job with progress above, every format, a clear 413 above the caps."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import uuid

import msgspec
from sqlalchemy import func, select

from mall.auth.models import OrgKind
from mall.pricing import imports
from pricing_monitor import observations
from pricing_monitor.identity import BrandAliases
from pricing_monitor.models import MarketBaseline, ObservationImport, PriceObservation
from pricing_monitor.policy import BaselinePolicy, Observation, compute_baseline

IMPORT = "/api/v1/pricing/observations/import"
PLATFORMS = ("JD", "Tmall", "Suning")


def feed(prefix: str, count: int, *, bad: dict[int, dict] | None = None) -> list[dict]:
    """``count`` rows for ``count // 3`` products seen on three platforms; the
    rows numbered in ``bad`` (from 1) are changed as given."""
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    rows = [
        {
            "source": "ecommerce",
            "platform": PLATFORMS[i % 3],
            "self_operated": True,
            "brand": "得力",
            "model": f"{prefix}-{i // 3}",
            "price": f"{20 + i % 3}.50",
            "observed_at": when,
            "url": f"https://example.com/{i}",
        }
        for i in range(count)
    ]
    for number, change in (bad or {}).items():
        rows[number - 1] = rows[number - 1] | change
    return rows


async def _count(session_maker, prefix: str) -> int:
    async with session_maker() as session:
        return (
            await session.scalar(
                select(func.count())
                .select_from(PriceObservation)
                .where(PriceObservation.model.like(f"{prefix}-%"))
            )
        ) or 0


async def test_thousands_of_rows_in_one_request(client, signed_in, session_maker) -> None:
    prefix = f"K{uuid.uuid4().hex[:6]}"
    rows = feed(
        prefix,
        2_400,
        bad={7: {"price": "1.234"}, 2_000: {"source": "rumour"}, 2_001: {"url": "x\u0000y"}},
    )
    operator = signed_in[OrgKind.OPERATOR]
    response = await client.post(IMPORT, json={"observations": rows}, headers=operator)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "done" and result["id"] is None
    assert (result["accepted"], result["new"], result["rejected"]) == (2_397, 2_397, 3)
    assert {(e["row"], e["field"], e["code"]) for e in result["errors"]} == {
        (7, "price", "invalid_price"),
        (2_000, "source", "unknown_source"),
        (2_001, "url", "invalid_character"),
    }
    assert all(e["message"] and e["message_zh"] for e in result["errors"])
    assert "价格" in next(e["message_zh"] for e in result["errors"] if e["row"] == 7)
    assert result["baselines_updated"] >= 800  # one per product and policy in use
    again = (await client.post(IMPORT, json={"observations": rows}, headers=operator)).json()
    assert (again["accepted"], again["new"]) == (2_397, 0)  # a repeated import adds nothing
    assert await _count(session_maker, prefix) == 2_397
    async with session_maker() as session:
        baseline = (
            await session.scalars(
                select(MarketBaseline).where(
                    MarketBaseline.model_norm == f"{prefix}-0".lower().replace("-", ""),
                    MarketBaseline.policy_key == "default",
                )
            )
        ).one()
    # JD 20.50, Tmall 21.50, Suning 22.50: the lowest, from three platforms.
    assert (str(baseline.price), baseline.observations, baseline.source) == (
        "20.50",
        3,
        "JD,Suning,Tmall",
    )


async def test_csv_and_json_lines_with_thousands_of_rows(client, signed_in, session_maker) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    prefix = f"C{uuid.uuid4().hex[:6]}"
    rows = feed(prefix, 3_000, bad={2_500: {"observed_at": "yesterday"}})
    columns = ("source", "platform", "self_operated", "brand", "model", "price", "observed_at")
    csv = "\ufeff" + ",".join(columns) + "\n"
    csv += "".join(",".join(str(r[c]).lower() for c in columns) + "\n" for r in rows)
    result = (
        await client.post(
            IMPORT, content=csv.encode(), headers={**operator, "content-type": "text/csv"}
        )
    ).json()
    assert (result["accepted"], result["new"], result["rejected"]) == (2_999, 2_999, 1)
    assert [(e["row"], e["code"]) for e in result["errors"]] == [(2_500, "invalid_time")]
    prefix = f"J{uuid.uuid4().hex[:6]}"
    lines = "\n".join(json.dumps(r) for r in feed(prefix, 3_000)) + "\nnot json\n"
    result = (
        await client.post(
            IMPORT,
            content=lines.encode(),
            headers={**operator, "content-type": "application/x-ndjson; charset=utf-8"},
        )
    ).json()
    assert (result["accepted"], result["new"], result["rejected"]) == (3_000, 3_000, 1)
    assert {e["row"] for e in result["errors"]} == {3_001}
    assert await _count(session_maker, prefix) == 3_000


async def test_a_large_import_is_a_job_with_progress_that_resumes_without_duplicates(
    client, signed_in, session_maker, settings, make_account, login
) -> None:
    prefix = f"B{uuid.uuid4().hex[:6]}"
    rows = feed(prefix, 100_000, bad={10: {"price": "-1"}, 60_000: {"gtin": "12"}})
    operator = signed_in[OrgKind.OPERATOR]
    response = await client.post(
        IMPORT, content=msgspec.json.encode({"observations": rows}), headers=operator
    )
    assert response.status_code == 202, response.text
    queued = response.json()
    assert (queued["status"], queued["rows_total"], queued["rows_done"]) == ("queued", 100_000, 0)
    progress = f"/api/v1/pricing/observations/imports/{queued['id']}"
    other = await login(await make_account(OrgKind.OPERATOR))
    assert (await client.get(progress, headers=other)).status_code == 404  # not theirs

    # The worker dies once the first chunk is committed ...
    import_id = uuid.UUID(queued["id"])
    first = asyncio.create_task(imports.run(session_maker, settings, import_id))
    while True:
        await asyncio.sleep(0.05)
        async with session_maker() as session:
            done = await session.scalar(
                select(ObservationImport.rows_done).where(ObservationImport.id == import_id)
            )
        if done or first.done():
            break
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    seen = (await client.get(progress, headers=operator)).json()
    assert seen["status"] == "running" and seen["rows_total"] == 100_000
    assert 0 < seen["rows_done"] < 100_000 and seen["rows_done"] % imports.CHUNK_ROWS == 0
    assert await _count(session_maker, prefix) == seen["accepted"]

    # ... and its retry resumes after that chunk.
    await imports.run(session_maker, settings, import_id)
    await imports.run(session_maker, settings, import_id)  # a finished import stays finished
    result = (await client.get(progress, headers=operator)).json()
    assert (result["status"], result["rows_done"]) == ("done", 100_000)
    assert (result["accepted"], result["new"], result["rejected"]) == (99_998, 99_998, 2)
    assert {(e["row"], e["field"]) for e in result["errors"]} == {(10, "price"), (60_000, "gtin")}
    assert result["baselines_updated"] >= 33_333
    assert await _count(session_maker, prefix) == 99_998  # nothing stored twice


async def test_more_than_the_caps_is_413(client, signed_in, monkeypatch) -> None:
    operator = signed_in[OrgKind.OPERATOR]
    too_many = b'{"observations": [' + b",".join([b"{}"] * (imports.MAX_ROWS + 1)) + b"]}"
    response = await client.post(IMPORT, content=too_many, headers=operator)
    assert response.status_code == 413
    assert response.json()["code"] == "pricing.import_too_large"
    assert "100,000" in response.json()["detail"] and "100000" in response.json()["title"]
    monkeypatch.setattr(imports, "MAX_BODY_BYTES", 1_000)
    large = {"observations": feed("L", 20)}
    response = await client.post(IMPORT, json=large, headers=operator)
    assert response.status_code == 413 and response.json()["code"] == "pricing.import_too_large"


async def test_the_schema_documents_the_body_and_the_sources(client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operation = schema["paths"][IMPORT]["post"]
    content = operation["requestBody"]["content"]
    assert {"application/json", "application/x-ndjson", "text/csv"} <= set(content)
    row = content["application/json"]["schema"]["properties"]["observations"]["items"]
    assert row["properties"]["source"]["enum"] == [
        "ecommerce",
        "manufacturer",
        "framework_cap",
        "mall_transactions",
    ]
    assert {"200", "202", "413"} <= set(operation["responses"])


async def test_set_based_baselines_agree_with_the_pure_policy(session_maker) -> None:
    """The SQL recomputation gives what ``compute_baseline`` gives, policy by policy."""
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(13)
    prefix = f"S{uuid.uuid4().hex[:6]}"
    rows = [
        {
            "source": rng.choice(["ecommerce", "ecommerce", "manufacturer", "framework_cap"]),
            "platform": rng.choice(["JD", "Tmall", "Suning", "PDD"]),
            "self_operated": rng.random() < 0.6,
            "brand": "得力",
            "model": f"{prefix}-{i % 40}",
            "price": f"{rng.randint(10, 99)}.{rng.randint(0, 99):02d}",
            "observed_at": (now - dt.timedelta(hours=rng.randint(1, 24 * 50))).isoformat(),
        }
        for i in range(600)
    ]
    policies = {
        "t_min": BaselinePolicy(),
        "t_mean": BaselinePolicy(aggregate="mean", self_operated_only=False),
        "t_median": BaselinePolicy(
            aggregate="median", sources=frozenset({"ecommerce", "manufacturer"})
        ),
        "t_median_all": BaselinePolicy(
            aggregate="median", self_operated_only=False, freshness_days=10, min_observations=3
        ),
    }
    async with session_maker() as session, session.begin():
        valid, errors = observations.validate(rows, BrandAliases({}), now)
        assert not errors
        await observations.store(session, valid)
        identities = {k for r in valid if (k := observations.identity_key(r))}
        await observations.recompute_baselines(session, identities, now, only=policies)
        stored = {
            (b.model_norm, b.policy_key): b
            for b in await session.scalars(
                select(MarketBaseline).where(MarketBaseline.policy_key.in_(policies))
            )
            if b.model_norm.startswith(prefix.lower())
        }
    expected = {}
    for _, model in identities:
        seen = [
            Observation(
                r["source"], r["platform"], r["self_operated"], r["price"], r["observed_at"]
            )
            for r in valid
            if r["model_norm"] == model
        ]
        for key, policy in policies.items():
            baseline = compute_baseline(seen, policy, now)
            if baseline.price is not None:
                expected[(model, key)] = (
                    baseline.price,
                    len(baseline.used),
                    ",".join(sorted({o.platform for o in baseline.used})),
                )
    assert len(expected) > 100
    assert {k: (b.price, b.observations, b.source) for k, b in stored.items()} == expected
