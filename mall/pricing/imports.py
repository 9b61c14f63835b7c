"""Importing market observations: small files at once, large ones as a job.

Up to ``SYNC_MAX_ROWS`` rows are stored, and their baselines recomputed, in
the request. Larger files (up to ``MAX_ROWS``) are kept in the file store and
a job takes them in chunks of ``CHUNK_ROWS``: each chunk commits its
observations, their baselines and the import's progress together, so a
retried job resumes after the last chunk it committed, and a row already
stored (``dedupe_key``) is never stored again.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mall import audit
from mall.auth.principal import Principal
from mall.errors import InvalidError, NotFoundError, TooLargeError
from mall.jobs.outbox import enqueue_job
from mall.pricing import service as monitor
from mall.settings import Settings
from mall.storage import FileStore
from pricing_monitor import observations
from pricing_monitor.models import ObservationImport

log = structlog.get_logger("mall.pricing.imports")

IMPORT_JOB = "pricing.import_observations"
MAX_ROWS = 100_000
# 100,000 rows with long URLs stay below this; the cap applies to this endpoint only.
MAX_BODY_BYTES = 64 * 1024 * 1024
SYNC_MAX_ROWS = 10_000
CHUNK_ROWS = 25_000
# Per-row errors kept and returned; beyond these only their number.
MAX_ERRORS = 1_000

JSON_LINES_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")


@dataclass
class ImportResult:
    """What an import did (or, for a job, has done so far)."""

    id: uuid.UUID | None = None
    status: str = "done"
    rows_total: int = 0
    rows_done: int = 0
    accepted: int = 0
    new: int = 0
    rejected: int = 0
    baselines_updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    errors_omitted: int = 0

    def add(self, other: ImportResult) -> None:
        """Count another chunk's outcome in."""
        self.rows_done += other.rows_done
        self.accepted += other.accepted
        self.new += other.new
        self.rejected += other.rejected
        self.baselines_updated += other.baselines_updated
        room = max(0, MAX_ERRORS - len(self.errors))
        self.errors = [*self.errors, *other.errors[:room]]
        self.errors_omitted += other.errors_omitted + max(0, len(other.errors) - room)


def body_format(content_type: str) -> str:
    """``json``, ``jsonl`` or ``csv``, from the request's content type."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in JSON_LINES_TYPES:
        return "jsonl"
    if media == "text/csv":
        return "csv"
    return "json"


def parse(content: bytes, fmt: str) -> list[dict[str, Any]]:
    """The rows of a body in one of the import formats; a malformed body is a 422."""
    if fmt == "jsonl":
        return observations.rows_from_json_lines(content.decode("utf-8", errors="replace"))
    if fmt == "csv":
        try:
            return observations.rows_from_csv(content.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidError(
                "The CSV is not UTF-8.",
                code="pricing.csv_encoding",
                title="文件须为 UTF-8 编码",
                errors=[{"field": "file", "message": "not UTF-8", "message_zh": "不是 UTF-8"}],
            ) from None
        except csv.Error as exc:
            raise InvalidError(
                f"The CSV cannot be read: {exc}.",
                code="pricing.csv_unreadable",
                title="CSV 文件无法读取",
                errors=[
                    {"field": "file", "message": str(exc)[:200], "message_zh": "CSV 文件格式错误"}
                ],
            ) from None
    try:
        return msgspec.json.decode(content, type=dict[str, list[dict[str, Any]]])["observations"]
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError):
        raise InvalidError(
            'Send {"observations": [...]}, JSON lines or a CSV file.',
            code="pricing.import_malformed",
            title="导入内容格式错误",
            errors=[
                {
                    "field": "observations",
                    "message": "a list of objects",
                    "message_zh": "须为对象数组",
                }
            ],
        ) from None


def too_large() -> TooLargeError:
    """The problem for a body above ``MAX_BODY_BYTES`` or with more than ``MAX_ROWS`` rows."""
    return TooLargeError(
        f"An import takes at most {MAX_ROWS:,} rows and {MAX_BODY_BYTES // (1024 * 1024)} MiB;"
        " split the file.",
        code="pricing.import_too_large",
        title=f"单次导入最多 {MAX_ROWS} 行、{MAX_BODY_BYTES // (1024 * 1024)} MiB，请拆分文件",
    )


async def apply(
    session: AsyncSession, rows: list[dict[str, Any]], now: dt.datetime, *, first: int = 1
) -> ImportResult:
    """Validate, store and recompute the baselines of ``rows``, set-based, in the
    caller's transaction (row numbers start at ``first``)."""
    valid, errors = observations.validate(
        rows, await observations.load_aliases(session), now, first=first
    )
    new = await observations.store(session, valid)
    identities = {key for r in valid if (key := observations.identity_key(r))}
    updated = await observations.recompute_baselines(session, identities, now)
    return ImportResult(
        rows_total=len(rows),
        rows_done=len(rows),
        accepted=len(valid),
        new=new,
        rejected=len({e["row"] for e in errors}),
        baselines_updated=updated,
        errors=errors[:MAX_ERRORS],
        errors_omitted=max(0, len(errors) - MAX_ERRORS),
    )


async def _finish(
    session: AsyncSession, actor: audit.Actor, subject_id: object, result: ImportResult
) -> None:
    await audit.record(
        session,
        actor=actor,
        action="pricing.observations_imported",
        subject_type="price_observation_import",
        subject_id=subject_id,
        after={
            "accepted": result.accepted,
            "new": result.new,
            "rejected": result.rejected,
            "baselines_updated": result.baselines_updated,
        },
    )
    if result.accepted:
        await monitor.request_scan(session, "import", actor)


async def receive(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    content: bytes,
    content_type: str,
) -> ImportResult | ObservationImport:
    """Import a request's observations now, or register the file for the job.

    A result with ``status`` ``done`` was imported in this transaction; a
    ``queued`` import runs after commit (follow it with ``get_own``).
    """
    fmt = body_format(content_type)
    rows = parse(content, fmt)
    if len(rows) > MAX_ROWS:
        raise too_large()
    actor = audit.Actor.of(principal)
    if len(rows) <= SYNC_MAX_ROWS:
        now = dt.datetime.now(dt.UTC)
        result = await apply(session, rows, now)
        await _finish(session, actor, now.isoformat(), result)
        return result
    job = ObservationImport(
        org_id=principal.org_id,
        file_sha256=FileStore(settings.mall.files_dir).put(content),
        file_format=fmt,
        status="queued",
        rows_total=len(rows),
        rows_done=0,
        accepted=0,
        new=0,
        rejected=0,
        baselines_updated=0,
        errors=[],
        errors_omitted=0,
    )
    session.add(job)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="pricing.observation_import_started",
        subject_type="price_observation_import",
        subject_id=job.id,
        after={"file_sha256": job.file_sha256, "format": fmt, "rows_total": len(rows)},
    )
    await enqueue_job(session, IMPORT_JOB, key=job.id, import_id=str(job.id))
    return job


async def get_own(
    session: AsyncSession, principal: Principal, import_id: uuid.UUID
) -> ObservationImport:
    """An import of the caller's organisation (another's is not found)."""
    found = (
        await session.scalars(
            select(ObservationImport).where(
                ObservationImport.id == import_id, ObservationImport.org_id == principal.org_id
            )
        )
    ).one_or_none()
    if found is None:
        raise NotFoundError(
            "No such observation import among your organisation's.",
            code="pricing.import_not_found",
            title="未找到该导入任务",
        )
    return found


async def run(
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
    import_id: uuid.UUID,
    budget_seconds: float | None = None,
) -> ObservationImport | None:
    """The job: the file's rows chunk by chunk, each chunk committed with the progress.

    Past ``budget_seconds`` (checked after each chunk) the run asks for the next
    one and returns the import still ``running``: a job stays within its time
    limit, and work left by a worker that died resumes at the next chunk.
    """
    started = time.monotonic()
    async with session_maker() as session, session.begin():
        job = await session.get(ObservationImport, import_id, with_for_update=True)
        if job is None or job.status == "done":
            return job
        job.status = "running"
        digest, fmt, start_at = job.file_sha256, job.file_format, job.rows_done
    rows = parse(FileStore(settings.mall.files_dir).get(digest), fmt)
    for start in range(start_at, len(rows), CHUNK_ROWS):
        async with session_maker() as session, session.begin():
            job = await session.get_one(ObservationImport, import_id, with_for_update=True)
            if job.rows_done > start:  # another run of this job took the chunk
                continue
            chunk = await apply(
                session,
                rows[start : start + CHUNK_ROWS],
                dt.datetime.now(dt.UTC),
                first=start + 1,
            )
            progress = ImportResult(
                rows_done=job.rows_done,
                accepted=job.accepted,
                new=job.new,
                rejected=job.rejected,
                baselines_updated=job.baselines_updated,
                errors=list(job.errors),
                errors_omitted=job.errors_omitted,
            )
            progress.add(chunk)
            for name in (
                "rows_done",
                "accepted",
                "new",
                "rejected",
                "baselines_updated",
                "errors",
                "errors_omitted",
            ):
                setattr(job, name, getattr(progress, name))
        log.info(
            "observation_import.progress",
            import_id=str(import_id),
            rows_done=progress.rows_done,
            rows_total=len(rows),
        )
        more = progress.rows_done < len(rows)
        if more and budget_seconds is not None and time.monotonic() - started > budget_seconds:
            async with session_maker() as session, session.begin():
                job = await session.get_one(ObservationImport, import_id)
                await enqueue_job(
                    session,
                    IMPORT_JOB,
                    key=f"{import_id}:{job.rows_done}",
                    import_id=str(import_id),
                )
            return job
    async with session_maker() as session, session.begin():
        job = await session.get_one(ObservationImport, import_id, with_for_update=True)
        if job.status == "done":
            return job
        job.rows_done = job.rows_total = max(job.rows_done, len(rows))
        job.status, job.finished_at = "done", dt.datetime.now(dt.UTC)
        await _finish(
            session,
            audit.SYSTEM,
            job.id,
            ImportResult(
                accepted=job.accepted,
                new=job.new,
                rejected=job.rejected,
                baselines_updated=job.baselines_updated,
            ),
        )
    log.info("observation_import.done", import_id=str(import_id), new=job.new)
    return job
