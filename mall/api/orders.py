"""Orders over HTTP: placing them, moving them on, returns and terminations,
the operators' verification queue, and order statistics."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from mall.api.deps import DbSession
from mall.api.enums import ChangeStatus, OrderStatus
from mall.api.params import INT4_MAX, Page, Paging, parse_datetime
from mall.auth.guards import current_principal, operators_and_regulators, requires
from mall.auth.models import OrgKind
from mall.calendar.service import load_calendar
from mall.orders import change_requests, service
from mall.orders.models import (
    CHANGE_STATUSES,
    ORDER_STATUSES,
    OrderChangeRequest,
    OrderLine,
    PurchaseOrder,
)
from mall.orders.stats import order_stats
from mall.sla.models import SlaClock

FundingSource = Literal["fiscal", "self_raised", "mixed", "other"]
ChangeType = Literal["return", "termination"]
ChangeReason = Literal[
    "demand_changed",
    "funds_adjusted",
    "procurement_method_changed",
    "quality_issue",
    "wrong_item",
    "late_delivery",
    "other",
]
Text2000 = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class LineIn(msgspec.Struct, forbid_unknown_fields=True):
    listing_id: uuid.UUID
    quantity: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class OrderIn(msgspec.Struct, forbid_unknown_fields=True):
    lines: Annotated[list[LineIn], msgspec.Meta(min_length=1, max_length=200)]
    delivery_address: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    contact_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    contact_phone: Annotated[str, msgspec.Meta(min_length=5, max_length=32)]
    budget_code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    funding_source: FundingSource
    requested_delivery_date: dt.date | None = None
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class LineOut(msgspec.Struct):
    id: uuid.UUID
    line_no: int
    listing_id: uuid.UUID
    revision_id: uuid.UUID
    category_code: str
    title: str
    unit: str
    unit_price: Decimal
    quantity: int
    cancelled_quantity: int
    returned_quantity: int
    amount: Decimal


class ClockOut(msgspec.Struct):
    kind: str
    started_at: dt.datetime
    working_days: int
    due_at: dt.datetime
    provisional: bool
    paused: bool
    met_at: dt.datetime | None
    breached_at: dt.datetime | None


class EventOut(msgspec.Struct):
    id: int
    occurred_at: dt.datetime
    action: str
    actor_kind: str
    actor_org_id: uuid.UUID | None
    subject_type: str
    subject_id: str
    summary: dict[str, Any]


class OrderSummaryOut(msgspec.Struct):
    id: uuid.UUID
    status: OrderStatus
    purchaser_org_id: uuid.UUID
    supplier_org_id: uuid.UUID
    placed_at: dt.datetime
    status_changed_at: dt.datetime
    total_amount: Decimal
    budget_code: str
    funding_source: FundingSource


class OrderOut(msgspec.Struct):
    id: uuid.UUID
    status: OrderStatus
    purchaser_org_id: uuid.UUID
    supplier_org_id: uuid.UUID
    placed_by: uuid.UUID
    placed_at: dt.datetime
    status_changed_at: dt.datetime
    status_reason: str | None
    delivery_address: str
    contact_name: str
    contact_phone: str
    budget_code: str
    funding_source: str
    requested_delivery_date: dt.date | None
    note: str | None
    total_amount: Decimal
    invoice_number: str | None
    invoice_amount: Decimal | None
    invoice_issued_on: dt.date | None
    payment_reference: str | None
    paid_amount: Decimal | None
    lines: list[LineOut]
    allowed_actions: list[str]
    clocks: list[ClockOut] | None = None
    timeline: list[EventOut] | None = None
    change_requests: list[dict[str, Any]] | None = None


class TransitionIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    invoice_number: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    invoice_amount: Decimal | None = None
    invoice_issued_on: dt.date | None = None
    payment_reference: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    paid_amount: Decimal | None = None


class LineChangeIn(msgspec.Struct, forbid_unknown_fields=True):
    line_id: uuid.UUID
    quantity: Annotated[int, msgspec.Meta(ge=1, le=INT4_MAX)]


class AttachmentIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class ChangeRequestIn(msgspec.Struct, forbid_unknown_fields=True):
    type: ChangeType
    reason: ChangeReason
    explanation: Text2000
    scope: Literal["order", "lines"] = "order"
    lines: Annotated[list[LineChangeIn], msgspec.Meta(max_length=200)] | None = None
    attachments: Annotated[list[AttachmentIn], msgspec.Meta(max_length=20)] | None = None


class ChangeRequestCreated(msgspec.Struct):
    id: uuid.UUID
    status: ChangeStatus
    due_at: dt.datetime
    order_id: uuid.UUID
    type: ChangeType
    scope: str


class ChangeRequestOut(msgspec.Struct):
    id: uuid.UUID
    order_id: uuid.UUID
    purchaser_org_id: uuid.UUID
    supplier_org_id: uuid.UUID
    type: ChangeType
    scope: str
    lines: list[dict[str, Any]]
    reason: ChangeReason
    explanation: str
    attachments: list[dict[str, Any]]
    status: ChangeStatus
    submitted_at: dt.datetime
    comments: list[dict[str, Any]]
    info_request: str | None
    decided_at: dt.datetime | None
    rejection_reason: str | None
    outcome: dict[str, Any] | None
    due_at: dt.datetime | None
    clock_paused: bool
    provisional: bool


class CommentIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Text2000


class RejectIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text2000


class RequestInfoIn(msgspec.Struct, forbid_unknown_fields=True):
    message: Text2000


class BucketOut(msgspec.Struct):
    orders: int
    amount: Decimal


class OrderStatsOut(msgspec.Struct):
    orders: int
    amount: Decimal
    by_status: dict[str, BucketOut]
    by_category: dict[str, BucketOut]
    change_requests_by_type: dict[str, int]
    change_requests_by_reason: dict[str, int]
    change_requests_by_status: dict[str, int]
    on_time_rate: dict[str, float | None]
    median_verification_working_hours: float | None


def _line_out(line: OrderLine) -> LineOut:
    return LineOut(**{f: getattr(line, f) for f in LineOut.__struct_fields__})


def _clock_out(clock: SlaClock) -> ClockOut:
    return ClockOut(
        kind=clock.kind,
        started_at=clock.started_at,
        working_days=clock.working_days,
        due_at=clock.due_at,
        provisional=clock.provisional,
        paused=clock.paused_since is not None,
        met_at=clock.met_at,
        breached_at=clock.breached_at,
    )


async def _order_out(
    db_session: Any,
    request: Request[Any, Any, Any],
    order: PurchaseOrder,
    *,
    detail: bool,
    lines: list[OrderLine] | None = None,
) -> OrderOut:
    principal = current_principal(request)
    if lines is None:
        lines = list(await service.lines_of(db_session, order.id))
    out = OrderOut(
        **{
            f: getattr(order, f)
            for f in OrderOut.__struct_fields__
            if f not in ("lines", "allowed_actions", "clocks", "timeline", "change_requests")
        },
        lines=[_line_out(line) for line in lines],
        allowed_actions=service.allowed_actions(order, principal.org_kind)
        if principal.org_kind in (OrgKind.PURCHASER, OrgKind.SUPPLIER)
        else [],
    )
    if detail:
        out.clocks = [_clock_out(c) for c in await service.clocks_of(db_session, order.id)]
        out.timeline = [
            EventOut(
                id=e.id,
                occurred_at=e.occurred_at,
                action=e.action,
                actor_kind=e.actor_kind,
                actor_org_id=e.actor_org_id,
                subject_type=e.subject_type,
                subject_id=e.subject_id,
                summary=e.summary,
            )
            for e in await service.timeline(db_session, order.id)
        ]
        out.change_requests = [
            {"id": str(r.id), "type": r.type, "status": r.status, "reason": r.reason}
            for r in await change_requests.list_for_order(db_session, principal, order.id)
        ]
    return out


def _change_out(item: OrderChangeRequest, clock: SlaClock | None) -> ChangeRequestOut:
    return ChangeRequestOut(
        **{
            f: getattr(item, f)
            for f in ChangeRequestOut.__struct_fields__
            if f not in ("due_at", "clock_paused", "provisional")
        },
        due_at=clock.due_at if clock else None,
        clock_paused=bool(clock and clock.paused_since),
        provisional=bool(clock and clock.provisional),
    )


async def _with_clock(db_session: Any, item: OrderChangeRequest) -> ChangeRequestOut:
    return _change_out(item, await change_requests.clock_of(db_session, item.id))


_parties = requires(OrgKind.PURCHASER, OrgKind.SUPPLIER)
_everyone = requires(OrgKind.PURCHASER, OrgKind.SUPPLIER, OrgKind.OPERATOR, OrgKind.REGULATOR)


class OrderController(Controller):
    path = "/api/v1/orders"
    tags = ["orders"]

    @post(
        "/",
        guards=[requires(OrgKind.PURCHASER)],
        summary="Place an order with one supplier (Idempotency-Key required)",
    )
    async def place(
        self,
        request: Request,
        data: JSONBody[OrderIn],
        db_session: DbSession,
        idempotency_key: Annotated[
            str, HeaderParameter(name="Idempotency-Key", min_length=1, max_length=255)
        ],
    ) -> Response[OrderOut]:
        """Places an order with one supplier; stock is reserved. The `Idempotency-Key` header is
        required: a replay answers the same order.
        """
        placed = await service.place(
            db_session,
            await load_calendar(db_session),
            request.app.state.settings.sla,
            current_principal(request),
            service.OrderRequest(
                lines=[service.LineRequest(x.listing_id, x.quantity) for x in data.lines],
                delivery_address=data.delivery_address,
                contact_name=data.contact_name,
                contact_phone=data.contact_phone,
                budget_code=data.budget_code,
                funding_source=data.funding_source,
                requested_delivery_date=data.requested_delivery_date,
                note=data.note,
            ),
            idempotency_key=idempotency_key,
        )
        body = await _order_out(db_session, request, placed.order, detail=False, lines=placed.lines)
        headers = {"Idempotent-Replayed": "true"} if placed.replayed else None
        return Response(body, status_code=201, headers=headers)

    @get("/", guards=[_everyone], summary="Orders you may see, newest first")
    async def list_orders(
        self,
        request: Request,
        db_session: DbSession,
        pagination: Paging,
        status: Annotated[str | None, QueryParameter(enum=list(ORDER_STATUSES))] = None,
        from_: Annotated[
            str | None, QueryParameter(name="from", description="placed at or after, ISO 8601")
        ] = None,
        to: Annotated[str | None, QueryParameter(description="placed before, ISO 8601")] = None,
    ) -> Page[OrderSummaryOut]:
        """Orders the caller may see, newest first, paged; filter by status and by when they were
        placed.
        """
        rows = await service.list_visible(
            db_session,
            current_principal(request),
            status=status,
            placed_from=parse_datetime(from_, "from"),
            placed_to=parse_datetime(to, "to"),
            limit=pagination.limit,
            offset=pagination.offset,
        )
        return pagination.page_of(
            [
                OrderSummaryOut(**{f: getattr(o, f) for f in OrderSummaryOut.__struct_fields__})
                for o in rows
            ]
        )

    @get("/{order_id:uuid}", guards=[_everyone], summary="An order with its timeline and clocks")
    async def get_order(
        self, request: Request, order_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> OrderOut:
        """An order with its lines, timeline, documents and deadlines."""
        order = await service.get_visible(db_session, current_principal(request), order_id)
        return await _order_out(db_session, request, order, detail=True)

    @post(
        "/{order_id:uuid}/{action:str}",
        guards=[_parties],
        status_code=200,
        summary="Move the order on: " + ", ".join(service.ACTIONS),
    )
    async def act(
        self,
        request: Request,
        order_id: FromPath[uuid.UUID],
        action: FromPath[str],
        db_session: DbSession,
        data: JSONBody[TransitionIn | None] = None,
    ) -> OrderOut:
        """Moves the order on by one step; who may take each step, and in which state, is fixed by
        the contract's lifecycle. Each step may start or stop a working-day clock.
        """
        given = data or TransitionIn()
        order = await service.transition(
            db_session,
            await load_calendar(db_session),
            request.app.state.settings.sla,
            current_principal(request),
            order_id,
            action,
            service.TransitionInput(**msgspec.structs.asdict(given)),
        )
        return await _order_out(db_session, request, order, detail=True)

    @post(
        "/{order_id:uuid}/change-requests",
        guards=[requires(OrgKind.PURCHASER)],
        summary="Ask for a return or a termination (verified within 1 working day)",
    )
    async def request_change(
        self,
        request: Request,
        order_id: FromPath[uuid.UUID],
        data: JSONBody[ChangeRequestIn],
        db_session: DbSession,
    ) -> ChangeRequestCreated:
        """The purchasing unit asks for a return or a termination with a reason; an operator
        verifies it within 1 working day.
        """
        item, clock = await change_requests.submit(
            db_session,
            await load_calendar(db_session),
            request.app.state.settings.sla,
            current_principal(request),
            order_id,
            change_requests.ChangeRequestInput(
                type=data.type,
                reason=data.reason,
                explanation=data.explanation,
                scope=data.scope,
                lines=[change_requests.LineChange(x.line_id, x.quantity) for x in data.lines]
                if data.lines is not None
                else None,
                attachments=[msgspec.structs.asdict(a) for a in data.attachments or []],
            ),
        )
        return ChangeRequestCreated(
            id=item.id,
            status=item.status,
            due_at=clock.due_at,
            order_id=item.order_id,
            type=item.type,
            scope=item.scope,
        )

    @get("/{order_id:uuid}/change-requests", guards=[_everyone])
    async def list_changes(
        self, request: Request, order_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> list[ChangeRequestOut]:
        """The order's return and termination requests (bounded by the order, not paged)."""
        items = await change_requests.list_for_order(
            db_session, current_principal(request), order_id
        )
        return [await _with_clock(db_session, item) for item in items]

    @get("/{order_id:uuid}/change-requests/{request_id:uuid}", guards=[_everyone])
    async def get_change(
        self,
        request: Request,
        order_id: FromPath[uuid.UUID],
        request_id: FromPath[uuid.UUID],
        db_session: DbSession,
    ) -> ChangeRequestOut:
        """One return or termination request with its thread and clock."""
        item = await change_requests.get_for_party(
            db_session, current_principal(request), order_id, request_id
        )
        return await _with_clock(db_session, item)

    @post(
        "/{order_id:uuid}/change-requests/{request_id:uuid}/comments",
        guards=[_parties],
        status_code=200,
        summary="The supplier's view (or the unit's addition) on an open request",
    )
    async def comment(
        self,
        request: Request,
        order_id: FromPath[uuid.UUID],
        request_id: FromPath[uuid.UUID],
        data: JSONBody[CommentIn],
        db_session: DbSession,
    ) -> ChangeRequestOut:
        """The supplier's view, or the unit's addition, on an open return or termination request."""
        item = await change_requests.comment(
            db_session, current_principal(request), order_id, request_id, data.text
        )
        return await _with_clock(db_session, item)

    @post(
        "/{order_id:uuid}/change-requests/{request_id:uuid}/respond",
        guards=[requires(OrgKind.PURCHASER)],
        status_code=200,
        summary="Answer an operator's request for information (the clock runs again)",
    )
    async def respond(
        self,
        request: Request,
        order_id: FromPath[uuid.UUID],
        request_id: FromPath[uuid.UUID],
        data: JSONBody[CommentIn],
        db_session: DbSession,
    ) -> ChangeRequestOut:
        """The unit answers an operator's request for information; the clock runs again."""
        item = await change_requests.respond(
            db_session,
            await load_calendar(db_session),
            current_principal(request),
            order_id,
            request_id,
            data.text,
        )
        return await _with_clock(db_session, item)


class OperatorChangeRequestController(Controller):
    path = "/api/v1/operator/change-requests"
    tags = ["orders"]

    @get(
        "/", guards=[operators_and_regulators], summary="The verification queue, soonest due first"
    )
    async def queue(
        self,
        db_session: DbSession,
        pagination: Paging,
        status: Annotated[str | None, QueryParameter(enum=list(CHANGE_STATUSES))] = None,
    ) -> Page[ChangeRequestOut]:
        """Return and termination requests to verify, soonest due first, paged."""
        rows = await change_requests.queue(db_session, status, pagination.limit, pagination.offset)
        return pagination.page_of([_change_out(item, clock) for item, clock in rows])

    @get("/{request_id:uuid}", guards=[operators_and_regulators])
    async def get_one(
        self, request_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ChangeRequestOut:
        """One return or termination request, for operators and regulators."""
        return await _with_clock(db_session, await change_requests.get_any(db_session, request_id))

    @post("/{request_id:uuid}/approve", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def approve(
        self, request: Request, request_id: FromPath[uuid.UUID], db_session: DbSession
    ) -> ChangeRequestOut:
        """Approves a return or termination; the order changes accordingly."""
        item = await change_requests.approve(db_session, current_principal(request), request_id)
        return await _with_clock(db_session, item)

    @post("/{request_id:uuid}/reject", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def reject(
        self,
        request: Request,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[RejectIn],
        db_session: DbSession,
    ) -> ChangeRequestOut:
        """Rejects a return or termination with a reason."""
        item = await change_requests.reject(
            db_session, current_principal(request), request_id, data.reason
        )
        return await _with_clock(db_session, item)

    @post("/{request_id:uuid}/request-info", guards=[requires(OrgKind.OPERATOR)], status_code=200)
    async def request_info(
        self,
        request: Request,
        request_id: FromPath[uuid.UUID],
        data: JSONBody[RequestInfoIn],
        db_session: DbSession,
    ) -> ChangeRequestOut:
        """Asks the purchasing unit for more information; the clock pauses until they answer."""
        item = await change_requests.request_info(
            db_session, current_principal(request), request_id, data.message
        )
        return await _with_clock(db_session, item)


class OrderStatsController(Controller):
    path = "/api/v1/stats/orders"
    tags = ["statistics"]
    guards = [operators_and_regulators]

    @get("/", summary="Orders and amounts by status and category, change requests, deadlines kept")
    async def stats(
        self,
        db_session: DbSession,
        from_: Annotated[str | None, QueryParameter(name="from", description="ISO 8601")] = None,
        to: Annotated[str | None, QueryParameter(description="ISO 8601, excluded")] = None,
    ) -> OrderStatsOut:
        """Orders and amounts by status and category, change requests, and the share of deadlines
        kept, for orders placed in [from, to).
        """
        stats = await order_stats(
            db_session,
            await load_calendar(db_session),
            placed_from=parse_datetime(from_, "from"),
            placed_to=parse_datetime(to, "to"),
        )
        return OrderStatsOut(
            orders=stats.orders,
            amount=stats.amount,
            by_status={k: BucketOut(b.orders, b.amount) for k, b in stats.by_status.items()},
            by_category={k: BucketOut(b.orders, b.amount) for k, b in stats.by_category.items()},
            change_requests_by_type=stats.change_requests_by_type,
            change_requests_by_reason=stats.change_requests_by_reason,
            change_requests_by_status=stats.change_requests_by_status,
            on_time_rate=stats.on_time_rate,
            median_verification_working_hours=stats.median_verification_working_hours,
        )
