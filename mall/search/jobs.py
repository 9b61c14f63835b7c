from __future__ import annotations

from typing import Any

from mall.jobs.registry import job
from mall.search import service
from mall.settings import get_settings

# Batches are committed one by one; past the budget the rest is a new job.
SYNC_BUDGET_SECONDS = 20


@job(service.SYNC_JOB, timeout=40)
async def sync_search(ctx: dict[str, Any]) -> int:
    return await service.sync_all(
        ctx["session_maker"], get_settings(), budget_seconds=SYNC_BUDGET_SECONDS
    )


async def sync_search_cron(ctx: dict[str, Any]) -> int:
    """Cron, every minute: the safety net for dirty listings no job took yet."""
    return await service.sync_all(
        ctx["session_maker"], get_settings(), budget_seconds=SYNC_BUDGET_SECONDS
    )
