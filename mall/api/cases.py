"""Cases over HTTP: filing (signed in, or anonymous for reports), reading by the
parties and operators, the thread and evidence, and the operators' handling."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath, FromQuery, JSONBody, MultipartBody

from mall.api.deps import DbSession
from mall.api.openapi import DOCUMENT_MEDIA_TYPES, OPTIONAL_BEARER, file_answer
from mall.api.params import Page, Paging
from mall.auth.guards import current_principal, requires, signed_in
from mall.auth.models import OrgKind
from mall.auth.principal import Principal
from mall.calendar.service import load_calendar
from mall.cases import service
from mall.cases.models import Case
from mall.cases.subjects import subject_types
from mall.storage import FileStore

CaseType = Literal["objection", "report", "dispute"]
CaseStatus = Literal[
    "submitted", "accepted", "investigating", "upheld", "dismissed", "withdrawn", "closed"
]
Note = Annotated[str, msgspec.Meta(max_length=2000)]
# Multipart overhead on top of the largest attachment allowed.
ATTACHMENT_BODY_BYTES = 11 * 1024 * 1024


class CaseIn(msgspec.Struct, forbid_unknown_fields=True):
    type: CaseType
    subject_type: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    subject_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    claim: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
    anonymous: bool = False


class CaseCreated(msgspec.Struct, omit_defaults=True):
    id: uuid.UUID
    status: str
    # Anonymous reports only: the one way to follow the case. Shown once.
    tracking_code: str | None = None


class ClockOut(msgspec.Struct):
    kind: str
    started_at: dt.datetime
    due_at: dt.datetime
    met_at: dt.datetime | None
    breached_at: dt.datetime | None
    paused: bool
    provisional: bool


class MessageOut(msgspec.Struct):
    id: uuid.UUID
    role: str
    body: str
    internal: bool
    created_at: dt.datetime
    author_user_id: uuid.UUID | None = None


class AttachmentOut(msgspec.Struct):
    id: uuid.UUID
    role: str
    media_type: str
    size_bytes: int
    sha256: str
    original_name: str
    created_at: dt.datetime


class CaseOut(msgspec.Struct):
    id: uuid.UUID
    type: CaseType
    subject_type: str
    subject_id: str
    status: CaseStatus
    claim: str
    your_role: str
    filed_at: dt.datetime
    accepted_at: dt.datetime | None
    decided_at: dt.datetime | None
    closed_at: dt.datetime | None
    decision_note: str | None
    outcome: dict[str, Any]
    clocks: list[ClockOut]
    messages: list[MessageOut]
    attachments: list[AttachmentOut]
    # Operators, regulators and the filer only: never the respondent.
    anonymous: bool | None = None
    filer: dict[str, Any] | None = None
    respondent_org_id: uuid.UUID | None = None
    assigned_to: uuid.UUID | None = None


class CaseSummaryOut(msgspec.Struct):
    id: uuid.UUID
    type: CaseType
    subject_type: str
    subject_id: str
    status: CaseStatus
    filed_at: dt.datetime
    assigned_to: uuid.UUID | None


def case_out(view: service.CaseView) -> CaseOut:
    """The one serialiser of a case: what is left out for the respondent is never set."""
    case, role = view.case, view.role
    staff = role in ("operator", "regulator")
    return CaseOut(
        id=case.id,
        type=case.case_type,
        subject_type=case.subject_type,
        subject_id=case.subject_id,
        status=case.status,
        claim=case.claim,
        your_role=role,
        filed_at=case.filed_at,
        accepted_at=case.accepted_at,
        decided_at=case.decided_at,
        closed_at=case.closed_at,
        decision_note=case.decision_note,
        outcome=case.outcome,
        clocks=[
            ClockOut(
                kind=c.kind,
                started_at=c.started_at,
                due_at=c.due_at,
                met_at=c.met_at,
                breached_at=c.breached_at,
                paused=c.paused_since is not None,
                provisional=c.provisional,
            )
            for c in view.clocks
        ],
        messages=[
            MessageOut(
                id=m.id,
                role=m.role,
                body=m.body,
                internal=m.visibility == "operators",
                created_at=m.created_at,
                author_user_id=m.author_user_id if staff else None,
            )
            for m in view.messages
        ],
        attachments=[
            AttachmentOut(
                id=a.id,
                role=a.role,
                media_type=a.media_type,
                size_bytes=a.size_bytes,
                sha256=a.sha256,
                original_name=a.original_name,
                created_at=a.created_at,
            )
            for a in view.attachments
        ],
        anonymous=case.anonymous if role != "respondent" else None,
        filer=view.filer if role != "respondent" else None,
        respondent_org_id=case.respondent_org_id,
        assigned_to=case.assigned_to if staff else None,
    )


class MessageIn(msgspec.Struct, forbid_unknown_fields=True):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]
    internal: bool = False


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Note = ""


class AssignIn(msgspec.Struct, forbid_unknown_fields=True):
    user_id: uuid.UUID | None = None


class DecideIn(msgspec.Struct, forbid_unknown_fields=True):
    outcome: Literal["upheld", "dismissed"]
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    penalty_code: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    # Published with the penalty; the note never is. By default, the behaviour and case type.
    public_reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] | None = None


@dataclass
class AttachmentUpload:
    file: UploadFile


def optional_principal(request: Request[Any, Any, Any]) -> Principal | None:
    user = request.scope.get("user")
    return user if isinstance(user, Principal) else None


async def read_attachment(request: Request[Any, Any, Any], data: AttachmentUpload) -> bytes:
    limit = request.app.state.settings.mall.document_max_bytes
    return await data.file.read(limit + 1)


def _store(request: Request[Any, Any, Any]) -> FileStore:
    return FileStore(request.app.state.settings.mall.files_dir)


async def _view(db_session: Any, case: Case, role: str) -> CaseOut:
    return case_out(await service.view_for(db_session, case, role))


class CaseController(Controller):
    path = "/api/v1/cases"
    tags = ["cases"]

    @post(
        "/",
        summary="File an objection, a report (may be anonymous, no login needed) or a dispute",
        security=OPTIONAL_BEARER,
    )
    async def file(
        self, request: Request, data: JSONBody[CaseIn], db_session: DbSession
    ) -> CaseCreated:
        """Files an objection or a dispute (signed in) or a report (anyone, anonymously if they
        wish; the answer then carries a tracking code). A bearer token is optional here.
        """
        case, code = await service.file(
            db_session,
            await load_calendar(db_session),
            request.app.state.settings,
            optional_principal(request),
            service.Filing(
                case_type=data.type,
                subject_type=data.subject_type,
                subject_id=data.subject_id,
                claim=data.claim,
                anonymous=data.anonymous,
            ),
        )
        return CaseCreated(id=case.id, status=case.status, tracking_code=code)

    @get("/subject-types", summary="What each type of case may be about")
    async def kinds(self) -> dict[str, list[str]]:
        """What each type of case may be about."""
        return subject_types()

    @get("/", guards=[signed_in], summary="Cases you filed, cases against you, or all (operators)")
    async def list_cases(
        self,
        request: Request,
        db_session: DbSession,
        pagination: Paging,
        status: FromQuery[CaseStatus | None] = None,
        type: FromQuery[CaseType | None] = None,
        mine: FromQuery[bool] = False,
    ) -> Page[CaseSummaryOut]:
        """Cases the caller filed or that are against their organisation; operators and regulators
        see all. Newest first, paged.
        """
        principal = current_principal(request)
        rows = await service.listing(
            db_session,
            principal,
            status=status,
            case_type=type,
            assigned_to_me=mine,
            limit=pagination.limit,
            offset=pagination.offset,
        )
        staff = principal.org_kind in (OrgKind.OPERATOR, OrgKind.REGULATOR)
        return pagination.page_of(
            [
                CaseSummaryOut(
                    id=c.id,
                    type=c.case_type,
                    subject_type=c.subject_type,
                    subject_id=c.subject_id,
                    status=c.status,
                    filed_at=c.filed_at,
                    assigned_to=c.assigned_to if staff else None,
                )
                for c in rows
            ]
        )

    @get("/{case_id:uuid}", guards=[signed_in], summary="A case, as you may see it")
    async def get_case(
        self, request: Request, case_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> CaseOut:
        """A case as the caller may see it: the reporter is hidden from the other side."""
        case, role = await service.get(db_session, current_principal(request), case_id)
        return await _view(db_session, case, role)

    @post("/{case_id:uuid}/messages", guards=[signed_in], summary="Write in the case's thread")
    async def message(
        self,
        request: Request,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[MessageIn],
        db_session: DbSession,
    ) -> CaseOut:
        """Writes in the case's thread."""
        principal = current_principal(request)
        case, role = await service.get(db_session, principal, case_id, lock=True)
        await service.post_message(
            db_session, principal, case, role, data.body, internal=data.internal
        )
        return await _view(db_session, case, role)

    @post(
        "/{case_id:uuid}/attachments",
        guards=[signed_in],
        request_max_body_size=ATTACHMENT_BODY_BYTES,
        summary="Add evidence (PDF, JPEG or PNG)",
    )
    async def attach(
        self,
        request: Request,
        case_id: FromPath[uuid.UUID],
        data: MultipartBody[AttachmentUpload],
        db_session: DbSession,
    ) -> AttachmentOut:
        """Adds evidence to a case (PDF, JPEG or PNG recognised by content)."""
        principal = current_principal(request)
        case, role = await service.get(db_session, principal, case_id, lock=True)
        attachment = await service.add_attachment(
            db_session,
            _store(request),
            principal,
            case,
            role,
            filename=data.file.filename or "attachment",
            content=await read_attachment(request, data),
            max_bytes=request.app.state.settings.mall.document_max_bytes,
        )
        return AttachmentOut(
            id=attachment.id,
            role=attachment.role,
            media_type=attachment.media_type,
            size_bytes=attachment.size_bytes,
            sha256=attachment.sha256,
            original_name=attachment.original_name,
            created_at=attachment.created_at,
        )

    @get(
        "/{case_id:uuid}/attachments/{attachment_id:uuid}",
        guards=[signed_in],
        operation_class=file_answer(*DOCUMENT_MEDIA_TYPES, description="The evidence file."),
    )
    async def attachment(
        self,
        request: Request,
        case_id: FromPath[uuid.UUID],
        attachment_id: FromPath[uuid.UUID],
        db_session: DbSession,
    ) -> Response[bytes]:
        """One piece of a case's evidence, to the parties and operators who may see it."""
        case, role = await service.get(db_session, current_principal(request), case_id)
        found = await service.attachment_for(db_session, case, role, attachment_id)
        return Response(_store(request).get(found.sha256), media_type=found.media_type)

    @post("/{case_id:uuid}/withdraw", guards=[signed_in], status_code=200)
    async def withdraw(
        self,
        request: Request,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[NoteIn],
        db_session: DbSession,
    ) -> CaseOut:
        """The filer withdraws their case before it is decided."""
        principal = current_principal(request)
        case, role = await service.get(db_session, principal, case_id, lock=True)
        await service.withdraw(db_session, principal, case, role, data.note)
        return await _view(db_session, case, role)

    @post("/{case_id:uuid}/assign", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def assign(
        self,
        request: Request,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[AssignIn],
        db_session: DbSession,
    ) -> CaseOut:
        """Assigns a case to an operator."""
        case = await service.assign(db_session, current_principal(request), case_id, data.user_id)
        return await _view(db_session, case, "operator")

    @post("/{case_id:uuid}/accept", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def accept(
        self,
        request: Request,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[NoteIn],
        db_session: DbSession,
    ) -> CaseOut:
        """Accepts (受理) a case: the acceptance deadline is met, the resolution one starts."""
        case = await service.accept(
            db_session,
            await load_calendar(db_session),
            request.app.state.settings,
            current_principal(request),
            case_id,
            data.note,
        )
        return await _view(db_session, case, "operator")

    @post("/{case_id:uuid}/investigate", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def investigate(
        self,
        request: Request,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[NoteIn],
        db_session: DbSession,
    ) -> CaseOut:
        """Moves an accepted case into investigation."""
        case = await service.investigate(db_session, current_principal(request), case_id, data.note)
        return await _view(db_session, case, "operator")

    @post(
        "/{case_id:uuid}/decide",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=200,
        summary="Uphold (an objection reverses its subject) or dismiss",
    )
    async def decide(
        self,
        request: Request,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[DecideIn],
        db_session: DbSession,
    ) -> CaseOut:
        """Decides a case: upheld (an objection reverses its subject; a report may lead to a
        penalty) or dismissed, with reasons.
        """
        case = await service.decide(
            db_session,
            current_principal(request),
            case_id,
            upheld=data.outcome == "upheld",
            note=data.note,
            penalty_code=data.penalty_code,
            public_reason=data.public_reason,
        )
        return await _view(db_session, case, "operator")

    @post("/{case_id:uuid}/close", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def close(
        self,
        request: Request,
        case_id: FromPath[uuid.UUID],
        data: JSONBody[NoteIn],
        db_session: DbSession,
    ) -> CaseOut:
        """Closes a decided case."""
        case = await service.close(db_session, current_principal(request), case_id, data.note)
        return await _view(db_session, case, "operator")
