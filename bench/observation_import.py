"""Importing 100,000 market observations (33,334 products on three platforms):
the request's side (parse, keep the file, queue the job) and the job (validate,
COPY into staging, insert the new rows, recompute the baselines, in chunks),
vs a raw binary COPY of the same rows into a table of the same shape and
indexes, in the same run. Median of ``ROUNDS`` rounds, each with new rows.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
import uuid

import msgspec
from sqlalchemy import text

from bench.common import Result
from mall.auth.accounts import create_user
from mall.auth.models import OrgKind
from mall.auth.principal import Principal
from mall.db import create_engine, create_session_maker
from mall.pricing import imports
from mall.settings import get_settings
from pricing_monitor import observations
from pricing_monitor.identity import BrandAliases

ROWS = int(os.environ.get("MALL_BENCH_OBSERVATIONS", "100000"))
ROUNDS = 3
PLATFORMS = ("JD", "Tmall", "Suning")


def feed(prefix: str, n: int) -> list[dict[str, object]]:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    return [
        {
            "source": "ecommerce",
            "platform": PLATFORMS[i % 3],
            "self_operated": i % 5 != 0,
            "brand": "得力" if i % 2 else "deli",
            "model": f"{prefix}-{i // 3}",
            "price": f"{20 + i % 7}.{i % 100:02d}",
            "observed_at": (when - dt.timedelta(minutes=i % 600)).isoformat(),
            "url": f"https://item.example.com/{PLATFORMS[i % 3]}/{prefix}/{i}",
        }
        for i in range(n)
    ]


async def _raw_copy(engine, rows: list[dict[str, object]]) -> float:  # type: ignore[no-untyped-def]
    """A binary COPY of the same rows, already validated, into a table like price_observation."""
    valid, _ = observations.validate(rows, BrandAliases({}), dt.datetime.now(dt.UTC))
    columns = ("id", *observations._STAGED[1:], "created_at", "updated_at")
    now = dt.datetime.now(dt.UTC)
    records = [(uuid.uuid4(), *(r[c] for c in observations._STAGED[1:]), now, now) for r in valid]
    async with engine.begin() as c:
        await c.execute(text("DROP TABLE IF EXISTS bench_observation"))
        await c.execute(
            text("CREATE TABLE bench_observation (LIKE price_observation INCLUDING ALL)")
        )
    async with engine.begin() as c:
        driver = (await c.get_raw_connection()).driver_connection
        started = time.perf_counter()
        await driver.copy_records_to_table("bench_observation", records=records, columns=columns)
    elapsed = time.perf_counter() - started
    async with engine.begin() as c:
        await c.execute(text("DROP TABLE bench_observation"))
    return elapsed


async def _phases(session_maker, rows: list[dict[str, object]]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Where the time goes: each step of one chunk of ``rows``, timed alone."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    content = msgspec.json.encode({"observations": rows})
    times["encode (client side)"] = time.perf_counter() - started
    started = time.perf_counter()
    parsed = imports.parse(content, "json")
    times["parse"] = time.perf_counter() - started
    async with session_maker() as session, session.begin():
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        valid, _ = observations.validate(parsed, await observations.load_aliases(session), now)
        times["validate"] = time.perf_counter() - started
        started = time.perf_counter()
        await observations.store(session, valid)
        times["store (COPY + INSERT)"] = time.perf_counter() - started
        identities = {k for r in valid if (k := observations.identity_key(r))}
        started = time.perf_counter()
        await observations.recompute_baselines(session, identities, now)
        times["recompute baselines"] = time.perf_counter() - started
        started = time.perf_counter()
    times["commit"] = time.perf_counter() - started
    return times


async def run(database_url: str, rows: int = ROWS) -> list[Result]:
    engine = create_engine(database_url)
    session_maker = create_session_maker(engine)
    settings = get_settings()
    async with session_maker() as session, session.begin():
        user = await create_user(
            session,
            kind=OrgKind.OPERATOR,
            org_name=f"bench operator {uuid.uuid4().hex[:6]}",
            email=f"bench-{uuid.uuid4().hex[:6]}@bench.example.com",
            password="bench-password-1",
        )
    principal = Principal(
        user_id=user.id,
        email=user.email,
        org_id=user.org_id,
        org_kind=OrgKind.OPERATOR,
        org_name="bench",
    )
    imported, copied = [], []
    for _ in range(ROUNDS):
        prefix = f"O{uuid.uuid4().hex[:6]}"
        data = feed(prefix, rows)
        content = msgspec.json.encode({"observations": data})
        started = time.perf_counter()
        async with session_maker() as session, session.begin():
            job = await imports.receive(session, settings, principal, content, "application/json")
        assert job.id is not None
        done = await imports.run(session_maker, settings, job.id)
        imported.append(time.perf_counter() - started)
        assert done is not None and done.new == rows, done.new if done else None
        copied.append(await _raw_copy(engine, data))
    phases = await _phases(session_maker, feed(f"P{uuid.uuid4().hex[:6]}", imports.CHUNK_ROWS))
    await engine.dispose()
    print(
        f"observation import rounds (s): {', '.join(f'{t:.2f}' for t in imported)};"
        f" raw COPY (s): {', '.join(f'{t:.2f}' for t in copied)}"
    )
    print(f"one chunk of {imports.CHUNK_ROWS:,} rows, step by step:")
    for name, seconds in phases.items():
        print(f"  {name:<24} {seconds * 1000:8.0f} ms")
    result = Result.of(
        f"observation_import_{rows // 1000}k",
        statistics.median(imported) * 1000,
        "ms",
        "raw binary COPY of the same rows",
        statistics.median(copied) * 1000,
    )
    return [result.inverted()]


if __name__ == "__main__":
    import asyncio

    from bench.common import print_table, scratch_database

    with scratch_database() as (database_url, _redis_url):
        print_table(asyncio.run(run(database_url)))
