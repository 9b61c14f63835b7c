from __future__ import annotations

import uuid
from typing import Any

from mall import audit
from mall.jobs.registry import job
from mall.pricing import imports, service
from mall.settings import get_settings


@job(service.SCAN_JOB, timeout=45)
async def run_price_scan(ctx: dict[str, Any], scan_id: str) -> int:
    async with ctx["session_maker"]() as session, session.begin():
        record = await service.run(session, get_settings(), scan_id=uuid.UUID(scan_id))
        return record.violations_opened if record else 0


@job(service.RECOMPUTE_JOB, timeout=45)
async def recompute_policy_baselines(ctx: dict[str, Any], category_code: str) -> int:
    async with ctx["session_maker"]() as session, session.begin():
        return await service.recompute_policy(session, category_code)


async def hourly_price_scan(ctx: dict[str, Any]) -> None:
    """Cron: request a full scan every hour (the job does the work)."""
    async with ctx["session_maker"]() as session, session.begin():
        await service.request_scan(session, "cron", audit.SYSTEM)


async def enforce_price_deadlines(ctx: dict[str, Any]) -> int:
    """Cron, every five minutes: unremedied violations are delisted."""
    async with ctx["session_maker"]() as session, session.begin():
        return await service.enforce_deadlines(session)


# A chunk of 25,000 rows takes a few seconds; past this the job hands over to the next.
IMPORT_BUDGET_SECONDS = 20


@job(imports.IMPORT_JOB, timeout=45)
async def import_observations(ctx: dict[str, Any], import_id: str) -> int:
    """Run a large observation import, a time budget at a time (each run resumes after the
    last committed chunk)."""
    found = await imports.run(
        ctx["session_maker"], get_settings(), uuid.UUID(import_id), IMPORT_BUDGET_SECONDS
    )
    return found.new if found else 0
