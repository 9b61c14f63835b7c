"""Placing orders through the HTTP API with 32 concurrent clients vs pgbench's
TPC-B transactions per second, measured in the same run.

Each order has 3 lines from one supplier's 300 listings (stock reserved per
line), and writes the order, its lines, two SLA clocks, a notice with its
outbox row and an audit event, in one transaction. The API runs in its own
uvicorn process with two workers; the clients speak keep-alive HTTP/1.1 over 32
connections. pgbench runs TPC-B (scale 1, 32 clients) against a database of
its own on the same server. Rounds alternate; medians are compared. The API
processes' CPU time per order (user + system, over each round) is reported
too: on a shared machine it is steadier than the rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import time
import uuid
from decimal import Decimal

import asyncpg
import httpx
import psutil

from bench.common import Result, clear_redis_prefix, median
from bench.http_health import _serve
from catalog.models import Listing, ListingRevision
from mall.auth.accounts import create_user
from mall.auth.models import OrgKind
from mall.db import create_engine, create_session_maker
from mall.embedded import free_port

CLIENTS = 32
# API processes (uvicorn workers): the API is stateless, so the mall scales
# by running more of them; two match this machine's two cores.
WORKERS = 2
LISTINGS = 3000
SECONDS = 12
ROUNDS = 3
PASSWORD = "Bench#order-2026"


async def _seed(database_url: str) -> tuple[str, list[str]]:
    """A purchasing unit and a supplier with LISTINGS listings on sale; the unit's e-mail."""
    engine = create_engine(database_url)
    try:
        async with create_session_maker(engine)() as session, session.begin():
            suffix = uuid.uuid4().hex[:6]
            email = f"buyer-{suffix}@bench.example.com"
            await create_user(
                session,
                kind=OrgKind.PURCHASER,
                org_name=f"bench unit {suffix}",
                email=email,
                password=PASSWORD,
            )
            supplier = await create_user(
                session,
                kind=OrgKind.SUPPLIER,
                org_name=f"bench supplier {suffix}",
                email=f"seller-{suffix}@bench.example.com",
                password=PASSWORD,
            )
            ids = []
            for i in range(LISTINGS):
                listing = Listing(
                    supplier_id=supplier.org_id, category_code="A090101", status="approved"
                )
                session.add(listing)
                await session.flush()
                revision = ListingRevision(
                    listing_id=listing.id,
                    supplier_id=supplier.org_id,
                    number=1,
                    status="approved",
                    category_code="A090101",
                    brand="得力",
                    brand_norm="得力",
                    model=f"B{i:04d}",
                    model_norm=f"b{i:04d}",
                    title=f"得力 B{i:04d} A4 复印纸 70g 500张/包",
                    attributes={"幅面": "A4", "克重": 70, "每包张数": 500},
                    price=Decimal("23.50"),
                    unit="包",
                    stock=10_000_000,
                )
                session.add(revision)
                await session.flush()
                listing.live_revision_id = listing.current_revision_id = revision.id
                ids.append(str(listing.id))
        return email, ids
    finally:
        await engine.dispose()


def _body(listing_ids: list[str], rng: random.Random) -> bytes:
    return json.dumps(
        {
            "lines": [
                {"listing_id": lid, "quantity": rng.randint(1, 5)}
                for lid in rng.sample(listing_ids, 3)
            ],
            "delivery_address": "包头市昆都仑区钢铁大街 9 号",
            "contact_name": "王老师",
            "contact_phone": "0472-5123456",
            "budget_code": "BT-2026-JY-0091",
            "funding_source": "fiscal",
        },
        ensure_ascii=False,
    ).encode()


async def _client(
    port: int, token: str, listing_ids: list[str], until: float, latencies: list[float]
) -> int:
    rng = random.Random()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    placed = 0
    try:
        while time.perf_counter() < until:
            body = _body(listing_ids, rng)
            head = (
                "POST /api/v1/orders HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Idempotency-Key: {uuid.uuid4().hex}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            response = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in response.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            content = await reader.readexactly(length)
            if not response.startswith(b"HTTP/1.1 201"):
                raise RuntimeError(content.decode(errors="replace"))
            latencies.append(time.perf_counter() - started)
            placed += 1
    finally:
        writer.close()
    return placed


def _cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """User + system CPU time of a process and its children (the API's workers)."""
    parent = psutil.Process(process.pid)
    total = 0.0
    for each in [parent, *parent.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = each.cpu_times()
            total += times.user + times.system
    return total


async def _orders_round(port: int, token: str, listing_ids: list[str]) -> tuple[int, float, float]:
    """(orders placed, seconds, p95 latency in ms) over SECONDS with CLIENTS connections."""
    latencies: list[float] = []
    started = time.perf_counter()
    until = started + SECONDS
    counts = await asyncio.gather(
        *(_client(port, token, listing_ids, until, latencies) for _ in range(CLIENTS))
    )
    elapsed = time.perf_counter() - started
    p95 = statistics.quantiles(latencies, n=20, method="inclusive")[18] * 1000
    return sum(counts), elapsed, p95


def _pgbench_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _pgbench(dsn: str) -> float:
    out = subprocess.run(
        ["pgbench", "-n", "-c", str(CLIENTS), "-j", "2", "-T", str(SECONDS), dsn],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+) \((?:without initial connection time|excluding)", out)
    if match is None:
        raise RuntimeError(out)
    return float(match.group(1))


async def _admin(database_url: str, sql: str) -> None:
    connection = await asyncpg.connect(_pgbench_dsn(database_url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _rows_per_relay(database_url: str) -> float:
    """Outbox rows relayed per relay transaction (``enqueued_at`` is its start time)."""
    connection = await asyncpg.connect(_pgbench_dsn(database_url))
    try:
        value = await connection.fetchval(
            "SELECT count(*)::float8 / greatest(count(DISTINCT enqueued_at), 1)"
            " FROM job_outbox WHERE enqueued_at IS NOT NULL"
        )
    finally:
        await connection.close()
    return float(value)


def run(database_url: str, redis_url: str) -> list[Result]:
    email, listing_ids = asyncio.run(_seed(database_url))
    bench_db = f"pgbench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{bench_db}"'))
    pgbench_dsn = _pgbench_dsn(database_url.rpartition("/")[0] + "/" + bench_db)
    subprocess.run(["pgbench", "-i", "-q", "-s", "1", pgbench_dsn], check=True, capture_output=True)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MALL_REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:6]}",
        # Pools large enough for every client's transaction at once.
        "MALL_DB_POOL_SIZE": str(CLIENTS // WORKERS),
        "MALL_DB_MAX_OVERFLOW": "0",
    }
    port = free_port()
    api = _serve(["--factory", "mall.app:create_app", "--workers", str(WORKERS)], port, env)
    try:
        token = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login",
            json={"email": email, "password": PASSWORD},
            timeout=30,
        ).json()["access_token"]
        rates, p95s, tps, cpu_ms = [], [], [], []
        for _ in range(ROUNDS):
            tps.append(_pgbench(pgbench_dsn))
            cpu_before = _cpu_seconds(api)
            placed, elapsed, p95 = asyncio.run(_orders_round(port, token, listing_ids))
            cpu_ms.append((_cpu_seconds(api) - cpu_before) * 1000 / placed)
            rates.append(placed / elapsed)
            p95s.append(p95)
        rows_per_relay = asyncio.run(_rows_per_relay(database_url))
    finally:
        api.terminate()
        api.wait(timeout=20)
        asyncio.run(_admin(database_url, f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)'))
        clear_redis_prefix(redis_url, env["MALL_REDIS_PREFIX"])
    return [
        Result.of(
            "order_placing_32_clients",
            median(rates),
            "ord/s",
            "pgbench TPC-B, 32 clients",
            median(tps),
        ),
        Result.of(
            "order_placing_api_cpu_per_order",
            median(cpu_ms),
            "ms",
            "—",
            0.0,
        ),
        Result.of(
            "order_placing_outbox_rows_per_relay",
            rows_per_relay,
            "rows",
            "—",
            0.0,
        ),
        Result.of(
            "order_placing_p95",
            median(p95s),
            "ms",
            "—",
            0.0,
        ),
    ]


def main() -> None:
    """Run this benchmark alone: ``python -m bench.order_placing``."""
    from bench.common import print_table, scratch_database

    with scratch_database() as (database_url, redis_url):
        print_table(run(database_url, redis_url))


if __name__ == "__main__":
    main()
