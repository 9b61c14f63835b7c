"""Audit append rate with 8 concurrent writers vs plain INSERTs of the same shape.

Both sides use the same path (SQLAlchemy async session, one row per
committed transaction, 8 concurrent writers); the difference is what the
chain costs: the advisory lock that serializes appends, reading the head,
and hashing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
import uuid

from sqlalchemy import text

from bench.common import Result, median
from mall import audit
from mall.db import create_engine, create_session_maker

WRITERS = 8
PER_WRITER = 150
ROUNDS = 3


async def _audit_writer(session_maker, n: int) -> None:
    for i in range(n):
        async with session_maker() as session, session.begin():
            await audit.record(
                session,
                actor=audit.SYSTEM,
                action="bench.event",
                subject_type="bench",
                subject_id=i,
                after={"i": i, "name": "得力 A4 复印纸 70g", "price": "23.50"},
            )


async def _plain_writer(session_maker, n: int) -> None:
    statement = text(
        "INSERT INTO bench_plain (occurred_at, actor_kind, actor_user_id, actor_org_id, action,"
        " subject_type, subject_id, summary, request_id, prev_hash, hash)"
        " VALUES (:occurred_at, 'system', NULL, NULL, 'bench.event', 'bench', :subject_id,"
        " CAST(:summary AS jsonb), NULL, :prev_hash, :hash)"
    )
    for i in range(n):
        async with session_maker() as session, session.begin():
            await session.execute(
                statement,
                {
                    "occurred_at": dt.datetime.now(dt.UTC),
                    "subject_id": str(i),
                    "summary": json.dumps(
                        {"after": {"i": i, "name": "得力 A4 复印纸 70g", "price": "23.50"}}
                    ),
                    "prev_hash": "0" * 64,
                    "hash": uuid.uuid4().hex * 2,
                },
            )


async def _rate(writer, session_maker) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(writer(session_maker, PER_WRITER) for _ in range(WRITERS)))
    return WRITERS * PER_WRITER / (time.perf_counter() - started)


async def run(database_url: str) -> list[Result]:
    engine = create_engine(database_url)
    session_maker = create_session_maker(engine)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE bench_plain (LIKE audit_event INCLUDING ALL)"))
    audit_rates, plain_rates = [], []
    try:
        await _rate(_plain_writer, session_maker)  # warm the pool and caches
        for _ in range(ROUNDS):
            plain_rates.append(await _rate(_plain_writer, session_maker))
            audit_rates.append(await _rate(_audit_writer, session_maker))
        async with engine.connect() as connection:
            verified = await audit.verify(connection)
        assert verified.ok, "the chain must hold after the benchmark"
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE bench_plain"))
        await engine.dispose()
    return [
        Result.of(
            "audit_append_8_writers",
            median(audit_rates),
            "rows/s",
            "plain INSERT, same shape, 8 writers",
            median(plain_rates),
        )
    ]
