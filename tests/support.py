"""Helpers shared by the tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg

T = TypeVar("T")


def plain_dsn(url: str) -> str:
    """asyncpg's DSN for a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@dataclass(frozen=True)
class Servers:
    admin_database_url: str
    redis_url: str


async def _admin(admin_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(plain_dsn(admin_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking code that starts its own event loop (Alembic's async env)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def admin_sql(admin_url: str, *statements: str) -> None:
    in_thread(asyncio.run, _admin(admin_url, *statements))
