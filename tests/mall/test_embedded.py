"""Embedded PostgreSQL and Redis: start, reuse, stop (the path `make run` takes)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import asyncpg
from redis.asyncio import Redis
from support import plain_dsn

from mall.embedded import EmbeddedPostgres, EmbeddedRedis, ensure_services


async def test_start_reuse_and_stop() -> None:
    # Not pytest's tmp_path: see the servers fixture in conftest.py.
    root = Path(tempfile.mkdtemp(prefix="mall-test-embedded-"))
    try:
        first = ensure_services(None, None, root)
        try:
            assert len(first.started) == 2
            again = ensure_services(None, None, root)
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
        assert ensure_services("postgresql+asyncpg://x/y", "redis://x", root).started == []
        # Stopped: a new call has to start them again.
        restarted = ensure_services(None, None, root)
        started_again = len(restarted.started)
        restarted.stop_started()
        assert started_again == 2
    finally:
        # Whatever happened above, nothing is left running.
        EmbeddedRedis(root / "redis").stop()
        EmbeddedPostgres(root / "pg").stop()
        shutil.rmtree(root, ignore_errors=True)
