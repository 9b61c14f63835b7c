"""Crons that find work a lost job left undone and ask for it again.

A revision still ``submitted`` a minute after its last change, or a listing
import ``queued`` or ``running`` with no progress for a minute, has no live
job (its job failed, or it was dropped before the outbox existed for it).
The review or import job is asked for again through the outbox, unless arq
still holds it (queued or running) or it has failed for good three times.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from arq.constants import result_key_prefix
from sqlalchemy import func, select

from catalog.models import ListingImport, ListingRevision
from mall.jobs.models import FailedJob
from mall.jobs.outbox import arq_job_id, enqueue_job, job_id_for
from mall.listings.imports import IMPORT_JOB
from mall.listings.service import REVIEW_JOB
from mall.pricing.imports import IMPORT_JOB as OBSERVATION_IMPORT_JOB
from pricing_monitor.models import ObservationImport

log = structlog.get_logger("mall.jobs")

STALE_AFTER = dt.timedelta(minutes=1)
GIVE_UP_AFTER_FAILURES = 3
BATCH = 500


async def requeue_stalled(ctx: dict[str, Any]) -> int:
    """Cron, every minute: ask again for the review of stalled revisions and
    the rest of stalled imports; returns how many were asked for."""
    queue_name: str = ctx["queue_name"]
    cutoff = dt.datetime.now(dt.UTC) - STALE_AFTER
    async with ctx["session_maker"]() as session, session.begin():
        revisions = await session.scalars(
            select(ListingRevision.id)
            .where(ListingRevision.status == "submitted", ListingRevision.updated_at < cutoff)
            .order_by(ListingRevision.updated_at)
            .limit(BATCH)
        )
        imports = await session.scalars(
            select(ListingImport.id)
            .where(
                ListingImport.status.in_(("queued", "running")), ListingImport.updated_at < cutoff
            )
            .order_by(ListingImport.updated_at)
            .limit(BATCH)
        )
        observation_imports = await session.scalars(
            select(ObservationImport.id)
            .where(
                ObservationImport.status.in_(("queued", "running")),
                ObservationImport.updated_at < cutoff,
            )
            .order_by(ObservationImport.updated_at)
            .limit(BATCH)
        )
        wanted = [(REVIEW_JOB, rid, {"revision_id": str(rid)}) for rid in revisions]
        wanted += [(IMPORT_JOB, iid, {"import_id": str(iid)}) for iid in imports]
        wanted += [
            (OBSERVATION_IMPORT_JOB, oid, {"import_id": str(oid)}) for oid in observation_imports
        ]
        if not wanted:
            return 0
        arq_ids = {
            (name, key): arq_job_id(queue_name, job_id_for(name, key), 0) for name, key, _ in wanted
        }
        given_up = set(
            await session.scalars(
                select(FailedJob.job_id)
                .where(FailedJob.job_id.in_(list(arq_ids.values())))
                .group_by(FailedJob.job_id)
                .having(func.count() >= GIVE_UP_AFTER_FAILURES)
            )
        )
        asked = [
            (name, key, kwargs)
            for name, key, kwargs in wanted
            if arq_ids[name, key] not in given_up
        ]
        if not asked:
            return 0
        # arq keeps a finished job's result for an hour and refuses the same id
        # meanwhile: drop the results so that the ids can be queued again. A job
        # arq still holds (queued or running) is left alone by the relay.
        await ctx["redis"].delete(*(result_key_prefix + arq_ids[n, k] for n, k, _ in asked))
        for name, key, kwargs in asked:
            await enqueue_job(session, name, key=key, **kwargs)
    log.warning("jobs.requeued_stalled", count=len(asked))
    return len(asked)
