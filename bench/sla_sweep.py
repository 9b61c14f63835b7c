"""The SLA breach sweep over 1,000,000 open clocks, 1% of them due, vs a bare
``UPDATE ... WHERE due_at < now()`` on a table of the same shape and data.

The sweep does everything the cron does in one transaction: the set-based
UPDATE ... RETURNING, one audit event per breached clock (hash-chained), one
notification per responsible organisation and per operator, and the outbox
row that delivers them. Ratio = bare time / sweep time (1.0 = free).
"""

from __future__ import annotations

import time

from sqlalchemy import text

from bench.common import Result, median
from mall.db import create_engine, create_session_maker
from mall.sla import service

CLOCKS = 1_000_000
DUE_EVERY = 100  # 1% due
ORGS = 500
ROUNDS = 5

_PREDICATE = "met_at IS NULL AND breached_at IS NULL AND paused_since IS NULL AND due_at < now()"


async def _populate(connection, table: str) -> None:
    await connection.execute(
        text(
            f"""
            INSERT INTO {table} (id, subject_type, subject_id, kind, responsible_org_id, started_at,
                                 working_days, due_at, provisional, paused_working_days,
                                 created_at, updated_at)
            SELECT gen_random_uuid(), 'order', g::text, 'payment',
                   (SELECT id FROM organisation WHERE name = 'bench org ' || (g % {ORGS})),
                   now() - interval '10 days', 5,
                   CASE WHEN g % {DUE_EVERY} = 0 THEN now() - interval '1 hour'
                        ELSE now() + (g % 1000) * interval '1 minute' + interval '1 day' END,
                   false, 0, now(), now()
            FROM generate_series(1, {CLOCKS}) AS g
            """
        )
    )


async def _reset(engine, table: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(f"UPDATE {table} SET breached_at = NULL WHERE breached_at IS NOT NULL")
        )
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f"VACUUM ANALYZE {table}"))


async def run(database_url: str) -> list[Result]:
    engine = create_engine(database_url)
    session_maker = create_session_maker(engine)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO organisation"
                " (id, kind, name, status, all_categories, created_at, updated_at)"
                " SELECT gen_random_uuid(), 'supplier', 'bench org ' || g, 'active', true,"
                " now(), now()"
                f" FROM generate_series(0, {ORGS - 1}) g"
            )
        )
        await connection.execute(
            text("CREATE TABLE bench_sla_plain (LIKE sla_clock INCLUDING ALL)")
        )
        await _populate(connection, "sla_clock")
        await _populate(connection, "bench_sla_plain")
    sweep_times, bare_times, breached = [], [], 0
    try:
        for _ in range(ROUNDS):
            await _reset(engine, "bench_sla_plain")
            started = time.perf_counter()
            async with engine.begin() as connection:
                await connection.execute(
                    text(f"UPDATE bench_sla_plain SET breached_at = now() WHERE {_PREDICATE}")
                )
            bare_times.append(time.perf_counter() - started)

            await _reset(engine, "sla_clock")
            started = time.perf_counter()
            async with session_maker() as session, session.begin():
                breached = (await service.sweep(session)).breached
            sweep_times.append(time.perf_counter() - started)
        assert breached == CLOCKS // DUE_EVERY, breached
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE bench_sla_plain"))
        await engine.dispose()
    sweep_s, bare_s = median(sweep_times), median(bare_times)
    return [
        Result.of(
            "sla_sweep_1m_clocks_1pct_due",
            sweep_s * 1000,
            "ms",
            "bare UPDATE, same table shape and data",
            bare_s * 1000,
        ).inverted()
    ]
