"""Migrations build the schema the models describe, and run down and up again."""

from __future__ import annotations

import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from support import admin_sql, in_thread, with_database

from mall import migrate
from mall.db import create_engine
from mall.models import metadata


async def test_models_and_migrations_agree(engine) -> None:
    async with engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), metadata
            )
        )
    assert diff == []


async def test_down_to_base_and_up_again(servers) -> None:
    name = f"mall_migrate_{uuid.uuid4().hex[:8]}"
    admin_sql(servers.admin_database_url, f'CREATE DATABASE "{name}"')
    url = with_database(servers.admin_database_url, name)
    try:
        in_thread(migrate.upgrade, url)
        in_thread(migrate.downgrade, url, "base")
        engine = create_engine(url)
        async with engine.connect() as connection:
            tables = (
                await connection.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ).all()
            functions = await connection.scalar(
                text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_event_append_only'")
            )
        await engine.dispose()
        assert set(tables) <= {"alembic_version"}
        assert functions == 0
        in_thread(migrate.upgrade, url)
    finally:
        admin_sql(servers.admin_database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
