"""Market observations in, baselines recomputed (the price monitor's intake)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, FromQuery, JSONBody

from mall import audit
from mall.api.deps import DbSession
from mall.api.params import Page, Paging
from mall.auth.guards import current_principal, operators_and_regulators, requires
from mall.auth.models import OrgKind
from mall.errors import InvalidError
from mall.pricing import history, imports
from mall.pricing import service as monitor
from pricing_monitor import observations
from pricing_monitor.models import PriceScan
from pricing_monitor.policy import ObservationSource


def _row_schema() -> Schema:
    text = Schema(type=OpenAPIType.STRING)
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["source", "price", "observed_at"],
        properties={
            "source": Schema(
                type=OpenAPIType.STRING,
                enum=[s.value for s in ObservationSource],
                description="Where the price was seen",
            ),
            "platform": Schema(type=OpenAPIType.STRING, max_length=50),
            "self_operated": Schema(type=OpenAPIType.BOOLEAN),
            "brand": Schema(type=OpenAPIType.STRING, max_length=100),
            "model": Schema(type=OpenAPIType.STRING, max_length=100),
            "gtin": Schema(type=OpenAPIType.STRING, pattern="^([0-9]{8}|[0-9]{12,14})$"),
            "platform_sku": Schema(type=OpenAPIType.STRING, max_length=64),
            "price": Schema(
                type=OpenAPIType.STRING,
                pattern="^[0-9]+(\\.[0-9]{1,2})?$",
                description="Yuan, at most 2 decimals",
            ),
            "observed_at": Schema(
                type=OpenAPIType.STRING,
                format=OpenAPIFormat.DATE_TIME,
                description="ISO 8601 with a UTC offset",
            ),
            "url": text,
            "evidence_sha256": text,
        },
    )


@dataclass
class ObservationImportOperation(Operation):
    """The import's request body: a JSON object, JSON lines or CSV, one row each."""

    # The body's media types, for the document's problem answers (400, 413).
    request_media_types = ("application/json", "application/x-ndjson", "text/csv")

    def __post_init__(self) -> None:
        row = _row_schema()
        self.request_body = RequestBody(
            required=True,
            description=(
                "At most 100,000 rows and 64 MiB. CSV columns: " + ", ".join(observations.COLUMNS)
            ),
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT,
                        required=["observations"],
                        properties={
                            "observations": Schema(
                                type=OpenAPIType.ARRAY, items=row, max_items=imports.MAX_ROWS
                            )
                        },
                    )
                ),
                "application/x-ndjson": OpenAPIMediaType(schema=row),
                "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING)),
            },
        )


class RowErrorOut(msgspec.Struct):
    row: int
    field: str
    code: str
    message: str
    message_zh: str


class ImportOut(msgspec.Struct):
    id: uuid.UUID | None
    status: Literal["queued", "running", "done", "failed"]
    rows_total: int
    rows_done: int
    accepted: int
    new: int
    rejected: int
    baselines_updated: int
    errors: list[RowErrorOut]
    errors_omitted: int


async def _body(request: Request) -> bytes:
    """The request body, refused (413) above the import's own cap."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > imports.MAX_BODY_BYTES:
        raise imports.too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > imports.MAX_BODY_BYTES:
            raise imports.too_large()
        chunks.append(chunk)
    return b"".join(chunks)


class ScanOut(msgspec.Struct):
    id: uuid.UUID
    status: str
    trigger: str
    scanned: int
    matched: int
    violations_opened: int
    violations_resolved: int
    duration_ms: float | None


class UnmatchedOut(msgspec.Struct):
    listing_id: str
    supplier_id: str
    category_code: str
    brand: str
    model: str
    gtin: str | None
    price: Decimal
    reason: str


class ViolationOut(msgspec.Struct):
    id: uuid.UUID
    listing_id: uuid.UUID
    supplier_id: uuid.UUID
    status: str
    listing_price: Decimal
    baseline_price: Decimal
    deviation_pct: Decimal
    tolerance_pct: Decimal
    opened_at: dt.datetime
    due_at: dt.datetime | None
    resolved_at: dt.datetime | None
    resolution: str | None


def _scan_out(r: PriceScan) -> ScanOut:
    return ScanOut(
        id=r.id,
        status=r.status,
        trigger=r.trigger,
        scanned=r.scanned,
        matched=r.matched,
        violations_opened=r.violations_opened,
        violations_resolved=r.violations_resolved,
        duration_ms=r.duration_ms,
    )


class ObjectionIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class CategoryPriceStatsOut(msgspec.Struct):
    category_code: str
    live_listings: int
    matched: int
    matched_share: float
    open_violations: int
    median_deviation_pct: Decimal | None
    above_market_share: float


class PricingController(Controller):
    path = "/api/v1/pricing"
    tags = ["pricing"]

    @post(
        "/observations/import",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=200,
        request_max_body_size=None,
        operation_class=ObservationImportOperation,
        responses={
            202: ResponseSpec(ImportOut, description="A large file: queued as a job"),
        },
        summary="Import market observations (JSON, JSON lines or CSV); valid rows kept",
        description=(
            "Up to 10,000 rows are imported at once (200). Up to 100,000 rows (64 MiB) are"
            " queued as a job (202): follow it at `/observations/imports/{id}`. A repeated"
            " import adds nothing; each bad row comes back with its row, field, code and"
            " messages."
        ),
    )
    async def import_observations(
        self, request: Request, db_session: DbSession
    ) -> Response[ImportOut]:
        """Imports market observations as JSON, JSON lines or CSV; large files run as a job."""
        result = await imports.receive(
            db_session,
            request.app.state.settings,
            current_principal(request),
            await _body(request),
            request.headers.get("content-type", ""),
        )
        out = msgspec.convert(result, ImportOut, from_attributes=True)
        return Response(out, status_code=200 if out.status == "done" else 202)

    @get(
        "/observations/imports/{import_id:uuid}",
        guards=[requires(OrgKind.OPERATOR)],
        summary="A queued observation import's progress and outcome",
    )
    async def get_import(
        self, request: Request, import_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ImportOut:
        """A large observation import's progress (rows done of the total) and, once done, its
        outcome and row errors."""
        found = await imports.get_own(db_session, current_principal(request), import_id)
        return msgspec.convert(found, ImportOut, from_attributes=True)

    @post(
        "/scans",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=202,
        summary="Scan every live listing (a job)",
    )
    async def request_scan(self, request: Request, db_session: DbSession) -> ScanOut:
        """Queues a scan of every live listing against its baseline, as a job."""
        return _scan_out(
            await monitor.request_scan(
                db_session, "manual", audit.Actor.of(current_principal(request))
            )
        )

    @get("/scans/{scan_id:uuid}", guards=[operators_and_regulators])
    async def get_scan(self, scan_id: FromPath[uuid.UUID], db_session: DbSession) -> ScanOut:
        """A price scan's progress and counts."""
        return _scan_out(await monitor.get_scan(db_session, scan_id))

    @get(
        "/violations",
        guards=[requires(OrgKind.OPERATOR, OrgKind.REGULATOR, OrgKind.SUPPLIER)],
        summary="Price violations (suppliers: their own)",
    )
    async def list_violations(
        self,
        request: Request,
        db_session: DbSession,
        pagination: Paging,
        status: FromQuery[Literal["open", "resolved", "delisted"] | None] = None,
    ) -> Page[ViolationOut]:
        """Price violations, newest first, paged; suppliers see their own. `status` keeps one
        status.
        """
        rows = await monitor.violations(
            db_session, current_principal(request), status, pagination.limit, pagination.offset
        )
        return pagination.page_of(
            [
                ViolationOut(
                    id=v.id,
                    listing_id=v.listing_id,
                    supplier_id=v.supplier_id,
                    status=v.status,
                    listing_price=v.listing_price,
                    baseline_price=v.baseline_price,
                    deviation_pct=v.deviation_pct,
                    tolerance_pct=v.tolerance_pct,
                    opened_at=v.opened_at,
                    due_at=due,
                    resolved_at=v.resolved_at,
                    resolution=v.resolution,
                )
                for v, due in rows
            ]
        )

    @post(
        "/violations/{violation_id:uuid}/objection",
        guards=[requires(OrgKind.SUPPLIER)],
        status_code=201,
        summary="Object to a violation (the deadline stops while operators decide)",
    )
    async def object_to(
        self,
        request: Request,
        violation_id: FromPath[uuid.UUID],
        data: JSONBody[ObjectionIn],
        db_session: DbSession,
    ) -> dict[str, Any]:
        """The supplier objects to a violation with its reasons; the fix deadline stops while
        operators decide.
        """
        case = await monitor.object_to(
            db_session, current_principal(request), violation_id, data.reason
        )
        return {"case_id": str(case.id), "status": case.status}

    @post(
        "/violations/{violation_id:uuid}/objection/{decision:str}",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=200,
        summary="Uphold or dismiss an objection",
    )
    async def decide(
        self,
        request: Request,
        violation_id: FromPath[uuid.UUID],
        decision: FromPath[str],
        data: JSONBody[DecisionIn],
        db_session: DbSession,
    ) -> dict[str, Any]:
        """An operator upholds (the violation is resolved) or dismisses (its deadline runs again) a
        supplier's objection.
        """
        if decision not in ("uphold", "dismiss"):
            raise InvalidError(
                "Decide uphold or dismiss.",
                code="pricing.objection_decision",
                title="请选择成立或驳回",
                errors=[{"field": "decision", "message": "uphold or dismiss"}],
            )
        violation = await monitor.decide_objection(
            db_session,
            current_principal(request),
            violation_id,
            uphold=decision == "uphold",
            note=data.note,
        )
        return {
            "violation_id": str(violation.id),
            "status": violation.status,
            "resolution": violation.resolution,
        }

    @get(
        "/stats",
        guards=[operators_and_regulators],
        summary="Per category: matched share, violations, deviation",
    )
    async def stats(self, db_session: DbSession) -> list[CategoryPriceStatsOut]:
        """Per category: live listings, the share matched to a market product, open violations,
        median deviation and the share above market (a reference list, not paged).
        """
        return [
            CategoryPriceStatsOut(
                **{f: getattr(s, f) for f in CategoryPriceStatsOut.__struct_fields__}
            )
            for s in await history.category_stats(db_session)
        ]

    @get(
        "/unmatched",
        guards=[requires(OrgKind.OPERATOR, OrgKind.REGULATOR, OrgKind.SUPPLIER)],
        summary="Live listings with no baseline to compare with, and why (suppliers: their own)",
    )
    async def unmatched(
        self,
        request: Request,
        db_session: DbSession,
        pagination: Paging,
        category: FromQuery[str | None] = None,
    ) -> Page[UnmatchedOut]:
        """Live listings the monitor cannot compare, with the reason, paged; suppliers see their
        own.
        """
        principal = current_principal(request)
        supplier = str(principal.org_id) if principal.is_kind(OrgKind.SUPPLIER) else None
        rows = await history.unmatched(
            db_session,
            category=category,
            supplier_id=supplier,
            limit=pagination.limit,
            offset=pagination.offset,
        )
        return pagination.page_of(
            [
                UnmatchedOut(**{f: getattr(r, f) for f in UnmatchedOut.__struct_fields__})
                for r in rows
            ]
        )
