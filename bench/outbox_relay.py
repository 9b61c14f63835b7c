"""The outbox relay's own CPU time per committed row, with 32 concurrent writers.

32 tasks each commit transactions of one outbox row (the shape of 32 API
requests that each write a notice), in one process, once with no relay
installed and once with one; the difference in the process's CPU time,
divided by the rows, is what relaying costs. The reference is the CPU time
per commit without a relay. Every row of the relayed phase is checked to be
marked enqueued, and the rows relayed per relay transaction are reported:
the writers here commit in step, so batches are larger than behind the HTTP
API. Rounds alternate; medians are compared.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.common import Result, median
from mall.db import create_engine, create_session_maker
from mall.jobs.outbox import Relay, enqueue_job, install_relay
from mall.jobs.worker import arq_redis_settings

WRITERS = 32
COMMITS_PER_WRITER = 60
ROUNDS = 3
RELAYED = "bench_relayed"


async def _commit_rows(session_maker: async_sessionmaker[AsyncSession], job_name: str) -> None:
    async def writer() -> None:
        for _ in range(COMMITS_PER_WRITER):
            async with session_maker() as session, session.begin():
                await enqueue_job(session, job_name, key=uuid.uuid4().hex)

    await asyncio.gather(*(writer() for _ in range(WRITERS)))


async def _phase(
    session_maker: async_sessionmaker[AsyncSession], relay: Relay | None, job_name: str
) -> float:
    """CPU seconds to commit the rows (and, with a relay, to relay them all)."""
    install_relay(relay)
    started = time.process_time()
    try:
        await _commit_rows(session_maker, job_name)
        if relay is not None:
            await relay.close()  # waits for the deliveries under way
    finally:
        install_relay(None)
    return time.process_time() - started


async def _measure(database_url: str, redis_url: str) -> tuple[float, float, float]:
    """(relay CPU ms per row, commit CPU ms per row without a relay), medians,
    and the rows relayed per relay transaction (``enqueued_at`` is its start)."""
    engine = create_engine(database_url)
    session_maker = create_session_maker(engine)
    queue = f"bench-relay-{uuid.uuid4().hex[:6]}"
    rows = WRITERS * COMMITS_PER_WRITER
    relay_ms, bare_ms = [], []
    try:
        await _commit_rows(session_maker, "bench_warm_up")  # pools and statement caches
        for _ in range(ROUNDS):
            bare = await _phase(session_maker, None, "bench_unrelayed")
            relay = Relay(session_maker, arq_redis_settings(redis_url, retries=0), queue)
            relayed = await _phase(session_maker, relay, RELAYED)
            bare_ms.append(bare * 1000 / rows)
            relay_ms.append((relayed - bare) * 1000 / rows)
        connection = await asyncpg.connect(database_url.replace("+asyncpg", "", 1))
        try:
            left, per_relay = await connection.fetchrow(
                "SELECT count(*) FILTER (WHERE enqueued_at IS NULL),"
                " count(enqueued_at)::float8 / greatest(count(DISTINCT enqueued_at), 1)"
                " FROM job_outbox WHERE job_name = $1",
                RELAYED,
            )
        finally:
            await connection.close()
        if left:
            raise RuntimeError(f"{left} relayed-phase rows were not relayed")
    finally:
        await engine.dispose()
        redis = Redis.from_url(redis_url)
        keys = [key async for key in redis.scan_iter(f"arq:job:{RELAYED}:*", count=1000)]
        for start in range(0, len(keys), 1000):
            await redis.delete(*keys[start : start + 1000])
        await redis.delete(queue)
        await redis.aclose()
    return median(relay_ms), median(bare_ms), per_relay


def run(database_url: str, redis_url: str) -> list[Result]:
    relay_ms, bare_ms, per_relay = asyncio.run(_measure(database_url, redis_url))
    return [
        Result.of(
            "outbox_relay_cpu_per_row",
            relay_ms * 1000,
            "µs",
            "commit without relay, CPU µs per row",
            bare_ms * 1000,
        ),
        Result.of("outbox_relay_rows_per_relay", per_relay, "rows", "—", 0.0),
    ]


def main() -> None:
    """Run this benchmark alone: ``python -m bench.outbox_relay``."""
    from bench.common import print_table, scratch_database

    with scratch_database() as (database_url, redis_url):
        print_table(run(database_url, redis_url))


if __name__ == "__main__":
    main()
