from __future__ import annotations

import uuid
from typing import Any

from mall.jobs.registry import job
from mall.listings import imports, service
from mall.settings import get_settings


@job(service.REVIEW_JOB, timeout=20)
async def review_listing_revision(ctx: dict[str, Any], revision_id: str) -> str | None:
    async with ctx["session_maker"]() as session, session.begin():
        return await service.review_revision(session, get_settings(), uuid.UUID(revision_id))


@job(service.IMAGE_JOB, timeout=20)
async def process_listing_image(ctx: dict[str, Any], image_id: str) -> str:
    async with ctx["session_maker"]() as session, session.begin():
        return await service.process_image(session, get_settings(), uuid.UUID(image_id))


# A run of the import job stops after this long; the next run goes on.
IMPORT_BUDGET_SECONDS = 20


@job(imports.IMPORT_JOB, timeout=45)
async def import_listings(ctx: dict[str, Any], import_id: str) -> int:
    job = await imports.run(
        ctx["session_maker"], get_settings(), uuid.UUID(import_id), IMPORT_BUDGET_SECONDS
    )
    return job.accepted if job else 0
