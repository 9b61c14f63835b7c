from __future__ import annotations

from typing import Any

from mall import audit
from mall.calendar.service import RECOMPUTE_JOB, load_calendar
from mall.jobs.registry import job
from mall.sla import service


async def sweep_sla_clocks(ctx: dict[str, Any]) -> int:
    """Cron, every minute: mark missed deadlines."""
    async with ctx["session_maker"]() as session, session.begin():
        return (await service.sweep(session)).breached


@job(RECOMPUTE_JOB)
async def recompute_provisional_clocks(ctx: dict[str, Any], year: int) -> int:
    """After a year's schedule is loaded: exact due times for provisional clocks."""
    async with ctx["session_maker"]() as session, session.begin():
        changed = await service.recompute_provisional(session, await load_calendar(session))
        await audit.record(
            session,
            actor=audit.SYSTEM,
            action="sla.recomputed",
            subject_type="calendar_year",
            subject_id=year,
            after={"clocks_changed": changed},
        )
        return changed


@job(service.DELIVER_PENDING_JOB)
async def deliver_pending_notifications(ctx: dict[str, Any]) -> int:
    async with ctx["session_maker"]() as session, session.begin():
        return await service.deliver_pending_notifications(session)
