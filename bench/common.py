"""What the benchmarks share: servers, a scratch database, timing and results."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg

from mall import migrate
from mall.embedded import ensure_services

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    reference: str
    reference_value: float
    ratio: float  # value / reference_value for rates; reference / value for times

    @classmethod
    def of(
        cls, name: str, value: float, unit: str, reference: str, reference_value: float
    ) -> Result:
        return cls(
            name,
            round(value, 1),
            unit,
            reference,
            round(reference_value, 1),
            round(value / reference_value, 3) if reference_value else 0.0,
        )

    def inverted(self) -> Result:
        """For times (lower is better): ratio = reference / value."""
        ratio = round(self.reference_value / self.value, 3) if self.value else 0.0
        return Result(self.name, self.value, self.unit, self.reference, self.reference_value, ratio)


def clear_redis_prefix(redis_url: str, prefix: str) -> None:
    """Remove what a benchmark left in a shared Redis: the jobs its queue still
    holds (arq keeps them under its own ``arq:job:`` prefix for a day) and the
    keys under its own prefix."""
    from redis import Redis

    with Redis.from_url(redis_url) as redis:
        queued = [job.decode() for job in redis.zrange(f"{prefix}:queue", 0, -1)]
        keys = [f"arq:job:{job}" for job in queued]
        keys += list(redis.scan_iter(f"{prefix}:*", count=1000))
        keys += list(redis.scan_iter(f"arq:*:{prefix}:queue:*", count=1000))
        for start in range(0, len(keys), 1000):
            redis.delete(*keys[start : start + 1000])


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextlib.contextmanager
def scratch_database() -> Iterator[tuple[str, str]]:
    """A migrated database of this run's own (and Redis), dropped afterwards.

    Uses MALL_TEST_DATABASE_URL / MALL_TEST_REDIS_URL when set, else embedded servers.
    """
    with tempfile.TemporaryDirectory(prefix="mall-bench-") as tmp:
        found = ensure_services(
            os.environ.get("MALL_TEST_DATABASE_URL"),
            os.environ.get("MALL_TEST_REDIS_URL"),
            Path(tmp),
        )
        name = f"mall_bench_{uuid.uuid4().hex[:8]}"
        base = found.database_url.rpartition("/")[0]

        async def admin(sql: str) -> None:
            connection = await asyncpg.connect(_dsn(found.database_url))
            try:
                await connection.execute(sql)
            finally:
                await connection.close()

        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        url = f"{base}/{name}"
        try:
            migrate.upgrade(url)
            yield url, found.redis_url
        finally:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            found.stop_started()


def write_results(results: list[Result]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "latest.json"
    path.write_text(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2) + "\n")
    return path


def print_table(results: list[Result]) -> None:
    columns = ("benchmark", "value", "unit", "reference", "ref value", "ratio")
    header = "{:<26} {:>10} {:<7} {:<36} {:>10} {:>6}".format(*columns)
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<26} {r.value:>10,.1f} {r.unit:<7} {r.reference:<36}"
            f" {r.reference_value:>10,.1f} {r.ratio:>6.3f}"
        )


@contextlib.contextmanager
def running_mall(database_url: str, redis_url: str) -> Iterator[str]:
    """A seeded mall of its own (Redis prefix and queue) with an API process and a
    worker on this machine; its base URL. Both are stopped, and the prefix's keys
    removed, at the end."""
    from bench.http_health import _serve  # it imports this module
    from mall.embedded import free_port

    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MALL_REDIS_PREFIX": prefix,
    }
    subprocess.run(
        [sys.executable, "-m", "mall", "seed-demo"], env=env, check=True, capture_output=True
    )
    port = free_port()
    api = _serve(["--factory", "mall.app:create_app"], port, env)
    worker = subprocess.Popen(
        [sys.executable, "-m", "mall", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        worker.terminate()
        api.terminate()
        worker.wait(timeout=20)
        api.wait(timeout=20)
        clear_redis_prefix(redis_url, prefix)
