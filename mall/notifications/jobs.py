from __future__ import annotations

import uuid
from typing import Any

from mall.jobs.registry import job
from mall.notifications import service


@job(service.DELIVER_JOB, timeout=10)
async def deliver_notification(ctx: dict[str, Any], notification_id: str) -> bool:
    async with ctx["session_maker"]() as session, session.begin():
        return await service.deliver(session, uuid.UUID(notification_id))
