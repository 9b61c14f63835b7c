"""Bulk listing imports: upload a file, a job creates, submits and reviews the
valid rows in batches, reports progress and every bad cell.

Each batch commits its listings together with the import's progress, so a
retried job resumes where it stopped and the same file sent again is the same
import: nothing is created twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
from collections import Counter
from typing import Any

import structlog
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog import bulk, categories, review
from catalog.models import ListingImport
from mall import audit
from mall.auth.active import require_active_supplier
from mall.auth.principal import Principal
from mall.errors import InvalidError, NotFoundError
from mall.jobs.outbox import enqueue_job
from mall.listings.service import supplier_facts
from mall.notifications.service import notify
from mall.settings import Settings
from mall.storage import FileStore

log = structlog.get_logger("mall.imports")

IMPORT_JOB = "import_listings"
BATCH = 1000
MAX_FILE_BYTES = 20 * 1024 * 1024


def file_format(filename: str, content: bytes) -> str:
    if content.startswith(b"PK\x03\x04"):
        return "xlsx"
    if filename.lower().endswith((".csv", ".txt")) or b"\x00" not in content[:4096]:
        return "csv"
    raise InvalidError(
        "Send a CSV or XLSX file.",
        code="catalog.import_format",
        title="仅支持 CSV 或 XLSX 文件",
        errors=[{"field": "file", "message": "not CSV or XLSX"}],
    )


async def start(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    *,
    filename: str,
    content: bytes,
    category_code: str,
) -> tuple[ListingImport, bool]:
    """Register the file (once per supplier and content) and queue its job; (import, created)."""
    await require_active_supplier(session, principal)
    if not content:
        raise InvalidError(
            "The file is empty.",
            code="catalog.import_empty",
            title="文件为空",
            errors=[{"field": "file", "message": "empty"}],
        )
    await categories.get(session, category_code)
    fmt = file_format(filename, content)
    header, _ = bulk.read_rows(content, fmt)
    bulk.check_header(header)
    digest = FileStore(settings.mall.files_dir).put(content)
    stmt = (
        insert(ListingImport)
        .values(
            id=uuid.uuid4(),
            supplier_id=principal.org_id,
            file_sha256=digest,
            filename=filename[:255],
            file_format=fmt,
            category_code=category_code,
            status="queued",
            rows_done=0,
            accepted=0,
            failed=0,
            outcomes={},
            errors=[],
            created_at=dt.datetime.now(dt.UTC),
            updated_at=dt.datetime.now(dt.UTC),
        )
        .on_conflict_do_nothing(constraint="uq_listing_import_file")
        .returning(ListingImport.id)
    )
    new_id = (await session.execute(stmt)).scalar_one_or_none()
    found = (
        await session.scalars(
            select(ListingImport).where(
                ListingImport.supplier_id == principal.org_id, ListingImport.file_sha256 == digest
            )
        )
    ).one()
    if new_id is not None:
        await audit.record(
            session,
            actor=audit.Actor.of(principal),
            action="listing_import.started",
            subject_type="listing_import",
            subject_id=found.id,
            after={"file_sha256": digest, "filename": filename, "category_code": category_code},
        )
        await enqueue_job(session, IMPORT_JOB, key=found.id, import_id=str(found.id))
    return found, new_id is not None


async def get_own(
    session: AsyncSession, principal: Principal, import_id: uuid.UUID
) -> ListingImport:
    found = (
        await session.scalars(
            select(ListingImport).where(
                ListingImport.id == import_id, ListingImport.supplier_id == principal.org_id
            )
        )
    ).one_or_none()
    if found is None:
        raise NotFoundError(
            "No such import among yours.", code="catalog.import_not_found", title="未找到该导入任务"
        )
    return found


async def run(
    session_maker: async_sessionmaker[AsyncSession], settings: Settings, import_id: uuid.UUID
) -> ListingImport | None:
    """The job: parse once, then create and review the rows batch by batch."""
    async with session_maker() as session, session.begin():
        job = await session.get(ListingImport, import_id, with_for_update=True)
        if job is None or job.status == "done":
            return job
        job.status = "running"
        supplier = await supplier_facts(session, job.supplier_id)
        category = await categories.get(session, job.category_code or "")
        spec, policy_key = categories.to_spec(category), category.price_policy_key
        ruleset = await review.active_ruleset(session)
        start_at, fmt, digest, supplier_id = (
            job.rows_done,
            job.file_format,
            job.file_sha256,
            job.supplier_id,
        )
    header, rows = bulk.read_rows(FileStore(settings.mall.files_dir).get(digest), fmt)
    done = 0
    pending: list[tuple[int, list[Any]]] = []

    async def flush() -> None:
        valid, errors = [], []
        for number, values in pending:
            content, problems = bulk.parse_row(header, values, spec, number)
            if content is None:
                errors.extend(problems)
            else:
                valid.append(content)
        async with session_maker() as session, session.begin():
            outcomes, ids = (
                await bulk.store_batch(
                    session, supplier_id, spec, valid, supplier, ruleset, policy_key
                )
                if valid
                else (Counter(), [])
            )
            job = await session.get_one(ListingImport, import_id, with_for_update=True)
            job.rows_done += len(pending)
            job.accepted += len(valid)
            job.failed += len({e["row"] for e in errors})
            job.errors = [*job.errors, *errors]
            job.outcomes = dict(Counter(job.outcomes) + outcomes)
            if ids:
                await audit.record(
                    session,
                    actor=audit.SYSTEM,
                    action="listing_import.batch",
                    subject_type="listing_import",
                    subject_id=import_id,
                    after={
                        "created": len(ids),
                        "outcomes": dict(outcomes),
                        "listing_ids_sha256": hashlib.sha256(
                            ",".join(map(str, ids)).encode()
                        ).hexdigest(),
                    },
                )
        pending.clear()

    for index, values in enumerate(rows):
        if index < start_at:
            continue
        done = index + 1
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        pending.append((index + 2, values))  # the header is row 1
        if len(pending) >= BATCH:
            await flush()
    if pending:
        await flush()
    async with session_maker() as session, session.begin():
        job = await session.get_one(ListingImport, import_id, with_for_update=True)
        job.rows_total = max(done, job.rows_done)
        job.rows_done = job.rows_total
        job.status, job.finished_at = "done", dt.datetime.now(dt.UTC)
        await notify(
            session,
            org_id=job.supplier_id,
            kind="listing_import.done",
            title_zh=f"批量导入完成：成功 {job.accepted} 行，失败 {job.failed} 行",
            title_en=f"Import finished: {job.accepted} rows accepted, {job.failed} failed",
            subject=("listing_import", job.id),
        )
    log.info(
        "listing_import.done", import_id=str(import_id), accepted=job.accepted, failed=job.failed
    )
    return job


def error_report(job: ListingImport) -> bytes:
    """The per-row errors as an XLSX the supplier can fix the file from."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("errors")
    sheet.append(["行 row", "列 column", "代码 code", "说明 message"])
    for e in job.errors:
        sheet.append([e["row"], e["column"], e["code"], e["message"]])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
