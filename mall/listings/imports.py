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
import time
import uuid
from collections import Counter
from typing import Any

import structlog
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog import bulk, categories, review
from catalog import images as image_tools
from catalog.errors import CatalogError
from catalog.models import Listing, ListingImport, MediaImage
from mall import audit
from mall.auth.active import require_active_supplier
from mall.auth.principal import Principal
from mall.errors import DomainError, InvalidError, NotFoundError
from mall.jobs.outbox import enqueue_job
from mall.listings import media
from mall.listings.service import supplier_facts
from mall.notifications.service import notify
from mall.settings import Settings
from mall.storage import FileStore

log = structlog.get_logger("mall.imports")

IMPORT_JOB = "import_listings"
BATCH = 1000
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_IMAGES_BYTES = 100 * 1024 * 1024


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
    images: bytes | None = None,
) -> tuple[ListingImport, bool]:
    """Register the file and its ZIP of images (once per supplier and contents) and queue
    its job; (import, created)."""
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
    store = FileStore(settings.mall.files_dir)
    images_digest = ""
    if images:
        image_tools.archive_names(images)  # a broken archive or a ZIP bomb is refused now
        images_digest = store.put(images)
    digest = store.put(content)
    stmt = (
        insert(ListingImport)
        .values(
            id=uuid.uuid4(),
            supplier_id=principal.org_id,
            file_sha256=digest,
            images_sha256=images_digest,
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
                ListingImport.supplier_id == principal.org_id,
                ListingImport.file_sha256 == digest,
                ListingImport.images_sha256 == images_digest,
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
            after={
                "file_sha256": digest,
                "images_sha256": images_digest or None,
                "filename": filename,
                "category_code": category_code,
            },
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


def _parse(
    header: list[str], pending: list[tuple[int, list[Any]]], spec: Any
) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """The rows' content by row number, and the errors of the rows that have some."""
    parsed, errors = [], []
    for number, values in pending:
        content, problems = bulk.parse_row(header, values, spec, number)
        if content is None:
            errors.extend(problems)
        else:
            parsed.append((number, content))
    return parsed, errors


async def _continue_later(
    session_maker: async_sessionmaker[AsyncSession], import_id: uuid.UUID
) -> ListingImport:
    """Ask for the next run of an import (its id names the rows done so far)."""
    async with session_maker() as session, session.begin():
        job = await session.get_one(ListingImport, import_id)
        await enqueue_job(
            session, IMPORT_JOB, key=f"{import_id}:{job.rows_done}", import_id=str(import_id)
        )
    return job


async def run(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    import_id: uuid.UUID,
    budget_seconds: float | None = None,
) -> ListingImport | None:
    """The job: parse once, then create and review the rows batch by batch.

    Each batch commits with the import's progress, so a run that stops (its
    time budget spent, or its worker gone) is resumed by the next run from
    the first row not done. Past the budget, the run asks for the next one
    and returns the import still ``running``.
    """
    started = time.monotonic()
    async with session_maker() as session, session.begin():
        job = await session.get(ListingImport, import_id, with_for_update=True)
        if job is None or job.status == "done":
            return job
        job.status = "running"
        supplier = await supplier_facts(session, job.supplier_id)
        category = await categories.get(session, job.category_code or "")
        spec, policy_key = categories.to_spec(category), category.price_policy_key
        ruleset = await review.active_ruleset(session)
        start_at, supplier_id = job.rows_done, job.supplier_id
        store = FileStore(settings.mall.files_dir)
        header, rows = bulk.read_rows(store.get(job.file_sha256), job.file_format)
        archive = store.get(job.images_sha256) if job.images_sha256 else None
        library = ImageSource(store, supplier_id, archive)
    done = 0
    pending: list[tuple[int, list[Any]]] = []

    async def flush() -> None:
        parsed, errors = _parse(header, pending, spec)
        async with session_maker() as session, session.begin():
            valid, numbers, images = await library.resolve_rows(session, parsed, errors)
            outcomes, ids = (
                await bulk.store_batch(
                    session,
                    supplier_id,
                    spec,
                    valid,
                    supplier,
                    ruleset,
                    policy_key,
                    images=images,
                    import_id=import_id,
                    row_numbers=numbers,
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
            if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                return await _continue_later(session_maker, import_id)
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


class ImageSource:
    """Resolves a row's image references: library ids (the supplier's own) and file
    names in the import's ZIP (each added to the library once)."""

    def __init__(self, store: FileStore, supplier_id: uuid.UUID, archive: bytes | None) -> None:
        self.store, self.supplier_id, self.archive = store, supplier_id, archive
        self.names = image_tools.archive_names(archive) if archive else {}
        self.added: dict[str, uuid.UUID] = {}

    async def resolve_rows(
        self,
        session: AsyncSession,
        parsed: list[tuple[int, dict[str, Any]]],
        errors: list[dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], list[int], list[list[MediaImage]]]:
        """The rows whose images all resolve (content, row number, images); the others'
        errors are added to ``errors``."""
        valid, numbers, images = [], [], []
        for number, content in parsed:
            found, problems = await self.resolve(session, number, content.pop("images"))
            if problems:
                errors.extend(problems)
                continue
            valid.append(content)
            numbers.append(number)
            images.append(found)
        return valid, numbers, images

    async def resolve(
        self, session: AsyncSession, row: int, references: list[str]
    ) -> tuple[list[MediaImage], list[dict[str, Any]]]:
        """The row's images in order, or its errors (column ``images``)."""
        errors: list[dict[str, Any]] = []

        def error(code: str, message: str) -> None:
            errors.append({"row": row, "column": "images", "code": code, "message": message})

        ids: list[uuid.UUID | None] = []
        for reference in references:
            media_id = bulk.media_reference(reference) or self.added.get(reference)
            if media_id is None:
                media_id = await self._from_archive(session, reference, error)
            ids.append(media_id)
        known = await media.owned(session, self.supplier_id, [i for i in ids if i])
        for reference, media_id in zip(references, ids, strict=True):
            if media_id is not None and media_id not in known:
                error(
                    "image_not_found", f"图片库中没有 {reference} / no such image in your library"
                )
        if errors:
            return [], errors
        return [known[i] for i in ids if i], []

    async def _from_archive(self, session: AsyncSession, name: str, error: Any) -> uuid.UUID | None:
        info = self.names.get(name)
        if info is None or self.archive is None:
            error("image_not_found", f"压缩包中没有文件 {name} / no file {name} in the ZIP")
            return None
        try:
            content = image_tools.archive_member(self.archive, info)
            # A savepoint: a refused image leaves the batch's transaction usable.
            async with session.begin_nested():
                found = await media.add(
                    session, self.store, audit.SYSTEM, self.supplier_id, content, name
                )
        except (CatalogError, DomainError) as exc:
            error("image_invalid", f"图片 {name} 不符合要求 / {exc}")
            return None
        self.added[name] = found.id
        return found.id


async def created_listings(session: AsyncSession, job: ListingImport) -> list[dict[str, Any]]:
    """The listings the import created, by row: id and where each stands."""
    rows = await session.execute(
        select(Listing.import_row, Listing.id, Listing.status)
        .where(Listing.import_id == job.id)
        .order_by(Listing.import_row, Listing.id)
    )
    return [{"row": r.import_row, "listing_id": r.id, "status": r.status} for r in rows]


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
