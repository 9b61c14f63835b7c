"""The worker's checkpoint of the audit chain."""

from __future__ import annotations

from typing import Any

import structlog

from mall.audit import checkpoints
from mall.settings import get_settings

log = structlog.get_logger("mall.audit")


async def checkpoint_audit_chain(ctx: dict[str, Any]) -> int | None:
    """Cron, every hour: sign and store the chain's head; the checkpoint's id."""
    key = checkpoints.CheckpointKey.from_secret(get_settings().auth.secret_key)
    async with ctx["session_maker"]() as session, session.begin():
        checkpoint = await checkpoints.create(session, key)
    if checkpoint is None:
        return None
    log.info(
        "audit.checkpoint",
        checkpoint_id=checkpoint.id,
        audit_event_id=checkpoint.audit_event_id,
        event_hash=checkpoint.event_hash,
    )
    return checkpoint.id
