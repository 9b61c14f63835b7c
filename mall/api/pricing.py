"""Market observations in, baselines recomputed (the price monitor's intake)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from mall import audit
from mall.api.deps import DbSession
from mall.api.params import Offset
from mall.auth.guards import current_principal, operators_and_regulators, requires
from mall.auth.models import OrgKind
from mall.errors import InvalidError
from mall.pricing import history
from mall.pricing import service as monitor
from pricing_monitor import observations
from pricing_monitor.models import PriceScan

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class ImportOut(msgspec.Struct):
    accepted: int
    new: int
    rejected: int
    errors: list[dict[str, Any]]
    baselines_updated: int


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
        request_max_body_size=MAX_IMPORT_BYTES,
        summary='Import market observations (JSON {"observations": [...]} or CSV); valid rows kept',
    )
    async def import_observations(self, request: Request, db_session: DbSession) -> ImportOut:
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-ndjson", "application/jsonl")):
            rows = observations.rows_from_json_lines(body.decode("utf-8", errors="replace"))
        elif content_type.startswith("text/csv"):
            try:
                rows = observations.rows_from_csv(body.decode("utf-8"))
            except UnicodeDecodeError:
                raise InvalidError(
                    "The CSV is not UTF-8.",
                    code="pricing.csv_encoding",
                    title="文件须为 UTF-8 编码",
                    errors=[{"field": "file", "message": "not UTF-8"}],
                ) from None
        else:
            try:
                payload = msgspec.json.decode(body, type=dict[str, list[dict[str, Any]]])
                rows = payload["observations"]
            except (msgspec.DecodeError, msgspec.ValidationError, KeyError):
                raise InvalidError(
                    'Send {"observations": [...]} or a CSV file.',
                    code="pricing.import_malformed",
                    title="导入内容格式错误",
                    errors=[{"field": "observations", "message": "a list of objects"}],
                ) from None
        now = dt.datetime.now(dt.UTC)
        valid, errors = observations.validate(
            rows, await observations.load_aliases(db_session), now
        )
        new = await observations.store(db_session, valid)
        identities = {key for r in valid if (key := observations.identity_key(r))}
        updated = await observations.recompute_baselines(db_session, identities, now)
        await audit.record(
            db_session,
            actor=audit.Actor.of(current_principal(request)),
            action="pricing.observations_imported",
            subject_type="price_observation_import",
            subject_id=now.isoformat(),
            after={
                "accepted": len(valid),
                "new": new,
                "rejected": len({e["row"] for e in errors}),
                "baselines_updated": updated,
            },
        )
        if valid:
            await monitor.request_scan(
                db_session, "import", audit.Actor.of(current_principal(request))
            )
        return ImportOut(
            accepted=len(valid),
            new=new,
            rejected=len({e["row"] for e in errors}),
            errors=errors,
            baselines_updated=updated,
        )

    @post(
        "/scans",
        guards=[requires(OrgKind.OPERATOR)],
        status_code=202,
        summary="Scan every live listing (a job)",
    )
    async def request_scan(self, request: Request, db_session: DbSession) -> ScanOut:
        return _scan_out(
            await monitor.request_scan(
                db_session, "manual", audit.Actor.of(current_principal(request))
            )
        )

    @get("/scans/{scan_id:uuid}", guards=[operators_and_regulators])
    async def get_scan(self, scan_id: FromPath[uuid.UUID], db_session: DbSession) -> ScanOut:
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
        status: FromQuery[Literal["open", "resolved", "delisted"] | None] = None,
    ) -> list[ViolationOut]:
        rows = await monitor.violations(db_session, current_principal(request), status)
        return [
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
        category: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Offset = 0,
    ) -> list[UnmatchedOut]:
        principal = current_principal(request)
        supplier = str(principal.org_id) if principal.is_kind(OrgKind.SUPPLIER) else None
        rows = await history.unmatched(
            db_session, category=category, supplier_id=supplier, limit=limit, offset=offset
        )
        return [
            UnmatchedOut(**{f: getattr(r, f) for f in UnmatchedOut.__struct_fields__}) for r in rows
        ]
