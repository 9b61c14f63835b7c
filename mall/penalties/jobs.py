from __future__ import annotations

from typing import Any

from mall.penalties import service


async def expire_penalties(ctx: dict[str, Any]) -> int:
    """Cron, every five minutes: suspensions and bans past their end expire
    (the supplier's standing is lifted by ``lift_expired_suspensions``)."""
    async with ctx["session_maker"]() as session, session.begin():
        return await service.expire_ended(session)
