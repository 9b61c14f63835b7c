"""The audit trail, for operators and regulators."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.params import FromQuery
from sqlalchemy import select

from mall.api.deps import DbSession
from mall.api.params import Cursor, Page, Paging
from mall.audit import checkpoints
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
    # The latest checkpoint the chain was held against, and why it broke.
    checkpoint_id: int | None = None
    reason: str | None = None


class CheckpointOut(msgspec.Struct):
    id: int
    audit_event_id: int
    event_hash: str
    created_at: dt.datetime
    key_id: str
    signature: str


class CheckpointsOut(msgspec.Struct):
    algorithm: str
    key_id: str
    public_key: str
    public_key_pem: str
    message_format: str
    # One page of checkpoints, newest first, as every list is paged.
    items: list[CheckpointOut]
    page: int
    page_size: int
    next_page: int | None


def _key(request: Request) -> checkpoints.CheckpointKey:
    return checkpoints.CheckpointKey.from_secret(request.app.state.settings.auth.secret_key)


class PublicAuditController(Controller):
    """The audit chain's signed checkpoints, for anyone to keep and check."""

    path = "/audit"
    tags = ["public", "audit"]

    @get(
        "/checkpoints",
        summary="Signed checkpoints of the audit chain's head, newest first, and the public key",
    )
    async def checkpoints(
        self,
        request: Request,
        db_session: DbSession,
        pagination: Paging,
    ) -> CheckpointsOut:
        """The signed checkpoints of the audit chain's head, newest first, paged, with the public
        key and the signed text's format, so that anyone can keep them and check the chain."""
        key = _key(request)
        rows = await checkpoints.listing(
            db_session, limit=pagination.limit, offset=pagination.offset
        )
        page = pagination.page_of(
            [msgspec.convert(row, CheckpointOut, from_attributes=True) for row in rows]
        )
        return CheckpointsOut(
            algorithm="Ed25519",
            key_id=key.key_id,
            public_key=key.public_base64,
            public_key_pem=key.public_pem,
            message_format=checkpoints.CHECKPOINT_FORMAT,
            items=page.items,
            page=page.page,
            page_size=page.page_size,
            next_page=page.next_page,
        )


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]
    guards = [operators_and_regulators]

    @get("/verify", summary="Verify the whole hash chain and its latest signed checkpoint")
    async def verify(self, request: Request, db_session: DbSession) -> AuditVerifyOut:
        """Recomputes every row's hash and checks the head against the latest signed checkpoint;
        reports the first broken row or the reason the chain does not match.
        """
        connection = await db_session.connection()
        result = await checkpoints.verify_chain(connection, _key(request))
        return msgspec.convert(result, AuditVerifyOut, from_attributes=True)

    @get("/events", summary="Audit events, newest first, optionally for one subject")
    async def events(
        self,
        db_session: DbSession,
        pagination: Paging,
        subject_type: FromQuery[str | None] = None,
        subject_id: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        before_id: Cursor = None,
    ) -> Page[AuditEventOut]:
        """The hash-chained audit trail, newest first, paged; filter by subject, action or
        `before_id`.
        """
        query = (
            select(AuditEvent)
            .order_by(AuditEvent.id.desc())
            .limit(pagination.limit)
            .offset(pagination.offset)
        )
        if subject_type is not None:
            query = query.where(AuditEvent.subject_type == subject_type)
        if subject_id is not None:
            query = query.where(AuditEvent.subject_id == subject_id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        if before_id is not None:
            query = query.where(AuditEvent.id < before_id)
        rows = (await db_session.execute(query)).scalars().all()
        return pagination.page_of(
            [
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
        )
