"""Bulk import of listings without images: parse → validate → review → store
(listings, revisions, decisions), vs a raw COPY of the same rows into a
table of text columns, in the same run."""

from __future__ import annotations

import io
import time
import uuid

import asyncpg
from sqlalchemy import text

from bench.common import Result
from catalog.categories import seed_demo_categories
from mall.auth.accounts import create_user
from mall.auth.models import OrgKind
from mall.auth.principal import Principal
from mall.db import create_engine, create_session_maker
from mall.listings import imports
from mall.settings import get_settings

ROWS = 100_000
HEADER = (
    "brand,model,title,price,unit,stock,energy_cert_no,attr:CPU型号,attr:内存容量,attr:硬盘容量"
)


def csv_rows(n: int) -> bytes:
    lines = [HEADER]
    for i in range(n):
        model = f"启天M{i:06d}"
        lines.append(
            f"联想,{model},联想 {model} 台式计算机 i5/16G/512G 商用办公,"
            f"{4000 + i % 997}.50,台,{i % 50},CQC{i:08d},i5-12500,16,512"
        )
    return ("\n".join(lines) + "\n").encode()


async def run(database_url: str, rows: int = ROWS) -> list[Result]:
    engine = create_engine(database_url)
    session_maker = create_session_maker(engine)
    content = csv_rows(rows)
    async with session_maker() as session, session.begin():
        await seed_demo_categories(session)
        user = await create_user(
            session,
            kind=OrgKind.SUPPLIER,
            org_name=f"bench supplier {uuid.uuid4().hex[:6]}",
            email=f"bench-{uuid.uuid4().hex[:6]}@bench.example.com",
            password="bench-password",
        )
    principal = Principal(
        user_id=user.id,
        email=user.email,
        org_id=user.org_id,
        org_kind=OrgKind.SUPPLIER,
        org_name="bench",
    )
    settings = get_settings()
    started = time.perf_counter()
    async with session_maker() as session, session.begin():
        job, _ = await imports.start(
            session,
            settings,
            principal,
            filename="bench.csv",
            content=content,
            category_code="A02010104",
        )
    done = await imports.run(session_maker, settings, job.id)
    import_s = time.perf_counter() - started
    assert done is not None and done.accepted == rows, done.accepted if done else None
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE TABLE bench_copy (brand text, model text, title text, price text,"
                " unit text, stock text, energy_cert_no text, cpu text, ram text, disk text)"
            )
        )
    connection = await asyncpg.connect(
        database_url.replace("postgresql+asyncpg://", "postgresql://")
    )
    try:
        started = time.perf_counter()
        await connection.copy_to_table(
            "bench_copy", source=io.BytesIO(content), format="csv", header=True
        )
        copy_s = time.perf_counter() - started
        await connection.execute("DROP TABLE bench_copy")
    finally:
        await connection.close()
    await engine.dispose()
    result = Result.of(
        f"bulk_import_{rows // 1000}k_listings",
        import_s * 1000,
        "ms",
        "raw COPY of the same rows",
        copy_s * 1000,
    )
    return [result.inverted()]
