"""The audit trail, for operators and regulators."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter
from sqlalchemy import select

from mall import audit
from mall.api.deps import DbSession
from mall.api.params import Cursor
from mall.audit.models import AuditEvent
from mall.auth.guards import operators_and_regulators


class AuditEventOut(msgspec.Struct):
    id: int
    occurred_at: dt.datetime
    actor_kind: str
    actor_user_id: uuid.UUID | None
    actor_org_id: uuid.UUID | None
    action: str
    subject_type: str
    subject_id: str
    summary: dict[str, Any]
    request_id: str | None
    hash: str


class AuditVerifyOut(msgspec.Struct):
    ok: bool
    checked: int
    first_broken_id: int | None


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]
    guards = [operators_and_regulators]

    @get("/verify", summary="Verify the whole hash chain")
    async def verify(self, db_session: DbSession) -> AuditVerifyOut:
        connection = await db_session.connection()
        result = await audit.verify(connection)
        return AuditVerifyOut(
            ok=result.ok, checked=result.checked, first_broken_id=result.first_broken_id
        )

    @get("/events", summary="Audit events, newest first, optionally for one subject")
    async def events(
        self,
        db_session: DbSession,
        subject_type: FromQuery[str | None] = None,
        subject_id: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        before_id: Cursor = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> list[AuditEventOut]:
        query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
        if subject_type is not None:
            query = query.where(AuditEvent.subject_type == subject_type)
        if subject_id is not None:
            query = query.where(AuditEvent.subject_id == subject_id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        rows = (await db_session.execute(query)).scalars().all()
        return [
            AuditEventOut(
                id=r.id,
                occurred_at=r.occurred_at,
                actor_kind=r.actor_kind,
                actor_user_id=r.actor_user_id,
                actor_org_id=r.actor_org_id,
                action=r.action,
                subject_type=r.subject_type,
                subject_id=r.subject_id,
                summary=r.summary,
                request_id=r.request_id,
                hash=r.hash,
            )
            for r in rows
        ]
