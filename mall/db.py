"""Database engine and sessions.

All tables of all packages share Advanced Alchemy's metadata; ``mall.models``
imports every model so that Alembic and the tests see the whole schema.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from mall.settings import DatabaseSettings


def create_engine(url: str, settings: DatabaseSettings | None = None) -> AsyncEngine:
    """An asyncpg engine with a bounded pool; times are UTC on every connection."""
    settings = settings or DatabaseSettings()
    return create_async_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=True,
        pool_timeout=settings.pool_timeout,
        echo=settings.echo,
        connect_args={
            "server_settings": {"timezone": "UTC", "application_name": "mall"},
            "timeout": settings.connect_timeout,
        },
    )


def create_session_maker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def violates(exc: IntegrityError, constraint: str) -> bool:
    """Whether the database refused a write because of this constraint or unique index."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    name = getattr(cause, "constraint_name", None)
    return name == constraint if name is not None else constraint in str(exc.orig)
