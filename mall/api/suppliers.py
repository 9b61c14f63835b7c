"""Supplier onboarding over HTTP: registration (no login), the supplier's own
application and documents, the operators' verification queue, standing, and
credit-list imports."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import (
    FromPath,
    FromQuery,
    JSONBody,
    MultipartBody,
)

from mall import audit
from mall.api.deps import DbSession
from mall.api.enums import ApplicationStatus, DocumentKind, listed_codes
from mall.api.openapi import DOCUMENT_MEDIA_TYPES, file_answer, raw_body
from mall.api.params import Page, Paging
from mall.auth.guards import current_principal, operators_and_regulators, requires
from mall.auth.models import OrgKind, OrgStatus
from mall.calendar.service import load_calendar
from mall.errors import InvalidError
from mall.sla.models import SlaClock
from mall.storage import FileStore
from mall.suppliers import commitment, credit, documents, service, standing
from mall.suppliers.models import SupplierApplication, SupplierDocument

BusinessType = Literal["enterprise", "individual_business", "other"]
Text100 = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class CommitmentOut(msgspec.Struct):
    version: str
    text: str
    text_sha256: str


class ApplicationIn(msgspec.Struct, forbid_unknown_fields=True):
    company_name: Annotated[str, msgspec.Meta(min_length=2, max_length=200)]
    uscc: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    region_code: Annotated[str, msgspec.Meta(max_length=6)]
    business_type: BusinessType
    legal_representative: Text100
    contact_name: Text100
    contact_mobile: Annotated[str, msgspec.Meta(max_length=20)]
    categories: Annotated[
        list[Annotated[str, msgspec.Meta(max_length=32)]], msgspec.Meta(max_length=200)
    ]
    admin_email: Annotated[
        str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    ]
    admin_password: Annotated[str, msgspec.Meta(max_length=200)]
    commitment_accepted: bool
    commitment_version: Annotated[str, msgspec.Meta(max_length=20)]


class ApplicationCreated(msgspec.Struct):
    id: uuid.UUID
    status: ApplicationStatus
    due_at: dt.datetime
    rejection: dict[str, Any] | None = None


class ApplicationOut(msgspec.Struct):
    id: uuid.UUID
    org_id: uuid.UUID
    status: ApplicationStatus
    company_name: str
    uscc: str
    region_code: str
    in_region: bool
    business_type: str
    legal_representative: str
    contact_name: str
    contact_mobile: str
    categories: list[str]
    granted_categories: list[str] | None
    submitted_at: dt.datetime
    decided_at: dt.datetime | None
    rejection_codes: list[str] | None
    rejection_reason: str | None
    info_request: str | None
    credit_hit: dict[str, Any] | None
    due_at: dt.datetime | None
    clock_paused: bool
    provisional: bool


def _application_out(application: SupplierApplication, clock: SlaClock | None) -> ApplicationOut:
    return ApplicationOut(
        id=application.id,
        org_id=application.org_id,
        status=application.status,
        company_name=application.company_name,
        uscc=application.uscc,
        region_code=application.region_code,
        in_region=application.in_region,
        business_type=application.business_type,
        legal_representative=application.legal_representative,
        contact_name=application.contact_name,
        contact_mobile=application.contact_mobile,
        categories=application.categories,
        granted_categories=application.granted_categories,
        submitted_at=application.submitted_at,
        decided_at=application.decided_at,
        rejection_codes=application.rejection_codes,
        rejection_reason=application.rejection_reason,
        info_request=application.info_request,
        credit_hit=application.credit_hit,
        due_at=clock.due_at if clock else None,
        clock_paused=bool(clock and clock.paused_since),
        provisional=bool(clock and clock.provisional),
    )


async def _with_clock(db_session: Any, application: SupplierApplication) -> ApplicationOut:
    return _application_out(application, await service.clock_of(db_session, application.id))


class ResubmitIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    contact_name: Text100 | None = None
    contact_mobile: Annotated[str, msgspec.Meta(max_length=20)] | None = None


class ApproveIn(msgspec.Struct, forbid_unknown_fields=True):
    categories: list[str] | None = None


class RejectIn(msgspec.Struct, forbid_unknown_fields=True):
    reason_codes: Annotated[
        list[str],
        listed_codes(service.REJECTION_CODES, "why the application is rejected", min_length=1),
    ]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class RequestInfoIn(msgspec.Struct, forbid_unknown_fields=True):
    message: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class StandingIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    until: dt.datetime | None = None


class StandingOut(msgspec.Struct):
    org_id: uuid.UUID
    status: str
    status_until: dt.datetime | None
    status_reason: str | None


class DocumentOut(msgspec.Struct):
    id: uuid.UUID
    kind: DocumentKind
    kind_name_zh: str
    media_type: str
    size_bytes: int
    sha256: str
    original_name: str
    valid_from: dt.date
    valid_until: dt.date
    # Past valid_until (Beijing time): the supplier must upload a newer one.
    expired: bool
    uploaded_at: dt.datetime


class DocumentsOut(msgspec.Struct):
    documents: list[DocumentOut]
    expiring_soon: list[str]
    blocking: list[str]


class ApplicationDetailOut(ApplicationOut):
    """An application as its verifier sees it: with the supplier's current documents."""

    documents: DocumentsOut


@dataclass
class DocumentUpload:
    kind: str
    valid_until: dt.date
    file: UploadFile
    # The document's issue date; the upload day when left out.
    valid_from: dt.date | None = field(default=None)


class CreditImportOut(msgspec.Struct):
    imported: int
    rejected: list[dict[str, Any]]


def _document_out(d: SupplierDocument) -> DocumentOut:
    return DocumentOut(
        id=d.id,
        kind=d.kind,
        kind_name_zh=documents.DOCUMENT_NAMES_ZH[d.kind],
        media_type=d.media_type,
        size_bytes=d.size_bytes,
        sha256=d.sha256,
        original_name=d.original_name,
        valid_from=d.valid_from,
        valid_until=d.valid_until,
        expired=documents.is_expired(d),
        uploaded_at=d.created_at,
    )


def _documents_out(found: documents.DocumentStatus) -> DocumentsOut:
    return DocumentsOut(
        documents=[_document_out(d) for d in found.current],
        expiring_soon=found.expiring_soon,
        blocking=found.blocking,
    )


def _document_download(request: Request[Any, Any, Any], document: SupplierDocument) -> Response:
    """The file with its media type, offered for saving under its name."""
    content = FileStore(request.app.state.settings.mall.files_dir).get(document.sha256)
    fallback, name = documents.download_name(document)
    return Response(
        content,
        media_type=document.media_type,
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
            ),
            "X-Content-Type-Options": "nosniff",
        },
    )


def _client(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


class SupplierController(Controller):
    path = "/api/v1/suppliers"
    tags = ["suppliers"]

    @get("/commitment", summary="The current commitment letter (public)")
    async def get_commitment(self) -> CommitmentOut:
        """The commitment letter an applicant accepts, with its version."""
        version = commitment.CURRENT_VERSION
        return CommitmentOut(
            version=version,
            text=commitment.letter(version),
            text_sha256=commitment.text_sha256(version),
        )

    @post("/applications", summary="Apply to join the mall: free, online, no account needed")
    async def apply(
        self, request: Request, data: JSONBody[ApplicationIn], db_session: DbSession
    ) -> ApplicationCreated:
        """Applies to join the mall on credit + commitment: no fee, no account needed. Creates the
        organisation and its first user, and starts the 2-working-day verification clock.
        """
        state = request.app.state
        application, clock = await service.register(
            db_session,
            await load_calendar(db_session),
            state.settings,
            service.Registration(**msgspec.structs.asdict(data)),
            client_address=_client(request),
        )
        rejection = None
        if application.status == "rejected":
            rejection = {
                "codes": application.rejection_codes,
                "reason": application.rejection_reason,
                "credit_hit": application.credit_hit,
            }
        return ApplicationCreated(
            id=application.id, status=application.status, due_at=clock.due_at, rejection=rejection
        )

    @get(
        "/application",
        guards=[requires(OrgKind.SUPPLIER)],
        summary="Your organisation's application",
    )
    async def own(self, request: Request, db_session: DbSession) -> ApplicationOut:
        """The caller's own application: its status, deadline and what operators asked for."""
        application = await service.own_application(db_session, current_principal(request))
        return await _with_clock(db_session, application)

    @post(
        "/application/resubmit",
        guards=[requires(OrgKind.SUPPLIER)],
        status_code=200,
        summary="Answer a request for more information",
    )
    async def resubmit(
        self, request: Request, data: JSONBody[ResubmitIn], db_session: DbSession
    ) -> ApplicationOut:
        """Answers an operator's request for information; the verification clock runs again."""
        application = await service.resubmit(
            db_session,
            await load_calendar(db_session),
            current_principal(request),
            note=data.note,
            contact_name=data.contact_name,
            contact_mobile=data.contact_mobile,
        )
        return await _with_clock(db_session, application)

    @get("/documents", guards=[requires(OrgKind.SUPPLIER)], summary="Your qualification documents")
    async def list_documents(self, request: Request, db_session: DbSession) -> DocumentsOut:
        """The supplier's qualification documents with their kinds and validity."""
        return _documents_out(await documents.status(db_session, current_principal(request).org_id))

    @post(
        "/documents",
        guards=[requires(OrgKind.SUPPLIER)],
        request_max_body_size=11 * 1024 * 1024,
        summary="Upload a qualification document (PDF, JPEG or PNG)",
    )
    async def upload_document(
        self, request: Request, data: MultipartBody[DocumentUpload], db_session: DbSession
    ) -> DocumentOut:
        """Uploads a qualification document (business licence, tax or social-security proof…) with
        its validity dates; PDF, JPEG or PNG recognised by content.
        """
        settings = request.app.state.settings
        content = await data.file.read(settings.mall.document_max_bytes + 1)
        document = await documents.upload(
            db_session,
            FileStore(settings.mall.files_dir),
            current_principal(request),
            kind=data.kind,
            valid_until=data.valid_until,
            valid_from=data.valid_from,
            filename=data.file.filename or "document",
            content=content,
            max_bytes=settings.mall.document_max_bytes,
        )
        return _document_out(document)

    @get(
        "/documents/{document_id:uuid}/content",
        guards=[requires(OrgKind.SUPPLIER)],
        summary="Download a document",
        operation_class=file_answer(*DOCUMENT_MEDIA_TYPES, description="The document as uploaded."),
    )
    async def document_content(
        self, request: Request, document_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> Response[bytes]:
        """The stored file of one of the supplier's own qualification documents."""
        document = await documents.get_own(db_session, current_principal(request), document_id)
        return _document_download(request, document)

    @post(
        "/withdraw", guards=[requires(OrgKind.SUPPLIER)], status_code=200, summary="Leave the mall"
    )
    async def withdraw(
        self, request: Request, data: JSONBody[StandingIn], db_session: DbSession
    ) -> StandingOut:
        """The supplier leaves the mall, with a reason; its open orders continue and its listings
        leave search.
        """
        org = await standing.withdraw(db_session, current_principal(request), data.reason)
        return StandingOut(
            org_id=org.id,
            status=org.status,
            status_until=org.status_until,
            status_reason=org.status_reason,
        )


class OperatorSupplierController(Controller):
    path = "/api/v1/operator"
    tags = ["operators"]

    @get(
        "/supplier-applications",
        guards=[operators_and_regulators],
        summary="Applications, soonest due first",
    )
    async def queue(
        self,
        db_session: DbSession,
        pagination: Paging,
        status: FromQuery[
            Literal["submitted", "info_requested", "approved", "rejected"] | None
        ] = None,
    ) -> Page[ApplicationOut]:
        """The verification queue, soonest due first, paged; `status` keeps one status."""
        rows = await service.queue(db_session, status, pagination.limit, pagination.offset)
        return pagination.page_of([_application_out(a, c) for a, c in rows])

    @get(
        "/supplier-applications/{application_id:uuid}",
        guards=[operators_and_regulators],
        summary="An application with the supplier's documents and their validity",
    )
    async def get_application(
        self, application_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ApplicationDetailOut:
        """One application with its checks, documents and verification clock."""
        application = await service.get_application(db_session, application_id)
        out = await _with_clock(db_session, application)
        found = await documents.status_of_supplier(db_session, application.org_id)
        return ApplicationDetailOut(**msgspec.structs.asdict(out), documents=_documents_out(found))

    @get(
        "/suppliers/{org_id:uuid}/documents",
        guards=[operators_and_regulators],
        summary="A supplier's current qualification documents and their validity",
    )
    async def supplier_documents(
        self, org_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> DocumentsOut:
        """A supplier's current qualification documents and their validity, for verification."""
        return _documents_out(await documents.status_of_supplier(db_session, org_id))

    @get(
        "/suppliers/{org_id:uuid}/documents/{document_id:uuid}/content",
        guards=[operators_and_regulators],
        summary="Download a supplier's document (current or superseded)",
    )
    async def supplier_document_content(
        self,
        request: Request,
        org_id: FromPath[uuid.UUID],
        document_id: FromPath[uuid.UUID],
        db_session: DbSession,
    ) -> Response[bytes]:
        """The stored file of a supplier's document (current or superseded)."""
        document = await documents.get_of_supplier(db_session, org_id, document_id)
        return _document_download(request, document)

    @post(
        "/supplier-applications/{application_id:uuid}/approve",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=200,
    )
    async def approve(
        self,
        request: Request,
        application_id: FromPath[uuid.UUID],
        data: JSONBody[ApproveIn],
        db_session: DbSession,
    ) -> ApplicationOut:
        """Approves an application: the supplier becomes active in the granted categories."""
        application = await service.approve(
            db_session, current_principal(request), application_id, data.categories
        )
        return await _with_clock(db_session, application)

    @post(
        "/supplier-applications/{application_id:uuid}/reject",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=200,
    )
    async def reject(
        self,
        request: Request,
        application_id: FromPath[uuid.UUID],
        data: JSONBody[RejectIn],
        db_session: DbSession,
    ) -> ApplicationOut:
        """Rejects an application with a reason the applicant reads."""
        application = await service.reject(
            db_session, current_principal(request), application_id, data.reason_codes, data.reason
        )
        return await _with_clock(db_session, application)

    @post(
        "/supplier-applications/{application_id:uuid}/request-info",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=200,
    )
    async def request_info(
        self,
        request: Request,
        application_id: FromPath[uuid.UUID],
        data: JSONBody[RequestInfoIn],
        db_session: DbSession,
    ) -> ApplicationOut:
        """Asks the applicant for more information; the clock pauses until they answer."""
        application = await service.request_info(
            db_session, current_principal(request), application_id, data.message
        )
        return await _with_clock(db_session, application)

    async def _standing(
        self, request: Request, org_id: uuid.UUID, to: OrgStatus, data: StandingIn, db_session: Any
    ) -> StandingOut:
        if to is OrgStatus.EXPELLED and data.until is None:
            raise InvalidError(
                "An expulsion needs the end of the ban.",
                code="supplier.ban_until_required",
                title="请填写禁入截止时间",
                errors=[{"field": "until", "message": "required"}],
            )
        org = await standing.change(
            db_session,
            audit.Actor.of(current_principal(request)),
            org_id,
            to,
            reason=data.reason,
            until=data.until,
        )
        return StandingOut(
            org_id=org.id,
            status=org.status,
            status_until=org.status_until,
            status_reason=org.status_reason,
        )

    @post("/suppliers/{org_id:uuid}/suspend", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def suspend(
        self,
        request: Request,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[StandingIn],
        db_session: DbSession,
    ) -> StandingOut:
        """Suspends a supplier until a date, with a reason; its listings leave search at once."""
        return await self._standing(request, org_id, OrgStatus.SUSPENDED, data, db_session)

    @post(
        "/suppliers/{org_id:uuid}/reinstate", guards=[requires(OrgKind.OPERATOR)], status_code=200
    )
    async def reinstate(
        self,
        request: Request,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[StandingIn],
        db_session: DbSession,
    ) -> StandingOut:
        """Ends a suspension: the supplier is active again."""
        return await self._standing(request, org_id, OrgStatus.ACTIVE, data, db_session)

    @post("/suppliers/{org_id:uuid}/expel", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def expel(
        self,
        request: Request,
        org_id: FromPath[uuid.UUID],
        data: JSONBody[StandingIn],
        db_session: DbSession,
    ) -> StandingOut:
        """Expels a supplier from the mall with a reason; its listings leave search at once."""
        return await self._standing(request, org_id, OrgStatus.EXPELLED, data, db_session)


CREDIT_LIST_BODY = raw_body(
    {
        "text/csv": Schema(
            type=OpenAPIType.STRING,
            description="UTF-8 CSV with a header: uscc,name,list_type,source,listed_on,expires_on",
        )
    },
    "A dishonesty list (失信名单) as CSV.",
)


class CreditListController(Controller):
    path = "/api/v1/credit"
    tags = ["credit"]

    @post(
        "/lists/import",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=200,
        request_max_body_size=20 * 1024 * 1024,
        operation_class=CREDIT_LIST_BODY,
        summary="Import a dishonesty list (CSV: uscc,name,list_type,source,listed_on,expires_on)",
    )
    async def import_list(self, request: Request, db_session: DbSession) -> CreditImportOut:
        """Loads a dishonesty list (失信名单) as CSV; applicants and suppliers are checked on it."""
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidError(
                "The file is not UTF-8 text.",
                code="credit.csv_encoding",
                title="文件须为 UTF-8 编码",
                errors=[{"field": "file", "message": "not UTF-8"}],
            ) from None
        result = await credit.import_list(db_session, current_principal(request), text)
        return CreditImportOut(imported=result.imported, rejected=result.rejected)
