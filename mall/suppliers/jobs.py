from __future__ import annotations

from typing import Any

from mall.jobs.registry import job
from mall.suppliers import credit, documents, standing


@job(credit.RECHECK_JOB)
async def recheck_suppliers_against_credit_lists(ctx: dict[str, Any]) -> int:
    async with ctx["session_maker"]() as session, session.begin():
        return await credit.recheck_suppliers(session)


async def send_document_reminders(ctx: dict[str, Any]) -> int:
    """Cron, daily."""
    async with ctx["session_maker"]() as session, session.begin():
        return await documents.send_expiry_reminders(session)


async def lift_expired_suspensions(ctx: dict[str, Any]) -> int:
    """Cron, every five minutes."""
    async with ctx["session_maker"]() as session, session.begin():
        return await standing.lift_expired_suspensions(session)
