"""Embedded PostgreSQL and Redis: start, reuse, stop (the path `make run` takes)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import asyncpg
from redis.asyncio import Redis
from support import plain_dsn

from mall.embedded import ensure_services


async def test_start_reuse_and_stop() -> None:
    # Not pytest's tmp_path: see the servers fixture in conftest.py.
    tmp_path = Path(tempfile.mkdtemp(prefix="mall-test-embedded-"))
    first = ensure_services(None, None, tmp_path)
    try:
        assert len(first.started) == 2
        again = ensure_services(None, None, tmp_path)
        assert again.started == []  # found running: reused, not started twice
        assert (again.database_url, again.redis_url) == (first.database_url, first.redis_url)

        connection = await asyncpg.connect(plain_dsn(first.database_url))
        try:
            ctype = await connection.fetchval(
                "SELECT datctype FROM pg_database WHERE datname = current_database()"
            )
            assert ctype == "C.UTF-8"
            assert await connection.fetchval("SELECT '得力'::text") == "得力"
        finally:
            await connection.close()
        redis = Redis.from_url(first.redis_url)
        assert await redis.ping()
        await redis.aclose()
    finally:
        first.stop_started()
    assert ensure_services("postgresql+asyncpg://x/y", "redis://x", tmp_path).started == []
    # Stopped: a new call has to start them again.
    restarted = ensure_services(None, None, tmp_path)
    assert len(restarted.started) == 2
    restarted.stop_started()
    shutil.rmtree(tmp_path, ignore_errors=True)
