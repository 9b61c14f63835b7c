"""Returns (合同订单退回) and terminations (项目终止) of orders.

The purchasing unit asks, naming the whole order or some lines and
quantities, a reason and an explanation; an operator verifies within 1
working day (the clock stops while the unit is asked for more). Approval
takes the quantities out of the order, puts them back in stock and
recomputes the amounts, once: the request row is locked and its status
checked, so a retried approval changes nothing. Approved after the invoice,
a change voids it: the order goes back to ``accepted`` for a corrected one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mall import audit
from mall.auth.models import Organisation, OrgKind
from mall.auth.principal import Principal
from mall.calendar.core import WorkCalendar
from mall.errors import ConflictError, InvalidError, NotFoundError
from mall.notifications.service import notify
from mall.orders import service as orders
from mall.orders.models import CHANGE_STATUSES, OrderChangeRequest, OrderLine, PurchaseOrder
from mall.settings import SlaSettings
from mall.sla import service as sla
from mall.sla.models import SlaClock

SUBJECT = orders.CHANGE_SUBJECT
CLOCK = "change_request_verification"
OPEN_STATUSES = orders.OPEN_CHANGE_STATUSES
TYPE_NAMES_ZH = {"return": "合同订单退回", "termination": "项目终止"}
# A change request can be made while the contract is being performed.
CHANGEABLE_STATUSES = (
    "placed",
    "confirmed",
    "shipped",
    "delivered",
    "acceptance_requested",
    "acceptance_rejected",
    "accepted",
    "invoiced",
    "invoice_received",
)
# A termination (项目终止) ends a contract before it is performed: until the
# goods are shipped. After that the goods are with the unit or on their way,
# and a return (合同订单退回) sends them, or some quantities, back.
TERMINABLE_STATUSES = ("placed", "confirmed")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _field(name: str, message: str) -> dict[str, str]:
    return {"field": name, "message": message}


@dataclass(frozen=True, slots=True)
class LineChange:
    line_id: uuid.UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class ChangeRequestInput:
    type: str
    reason: str
    explanation: str
    scope: str = "order"  # or "lines", naming them in ``lines``
    lines: list[LineChange] | None = None
    attachments: list[dict[str, str]] | None = None


def require_terminable(order: PurchaseOrder, change_type: str) -> None:
    """Refuse a termination of an order whose goods have been shipped: 409
    ``order.termination_after_shipment`` naming the return as the way."""
    if change_type != "termination" or order.status in TERMINABLE_STATUSES:
        return
    raise ConflictError(
        f"The order is {order.status}: its goods have been shipped, so the contract can no "
        "longer be terminated: a return (type return) of the goods or of the quantities "
        "sent back is the way.",
        code="order.termination_after_shipment",
        title="订单已发货，不能项目终止，请申请合同订单退回",
        current_status=order.status,
        terminable_statuses=list(TERMINABLE_STATUSES),
        use_type="return",
    )


def _not_found() -> NotFoundError:
    return NotFoundError(
        "No such change request.", code="order.change_request_not_found", title="未找到该申请"
    )


def _changes(
    data: ChangeRequestInput, lines: Sequence[OrderLine]
) -> tuple[str, list[dict[str, Any]]]:
    """The scope and the (line, quantity) pairs asked for, checked against what remains."""
    by_id = {line.id: line for line in lines}
    if data.scope == "order" and data.lines:
        raise InvalidError(
            "A change of the whole order names no lines; use scope lines to name them.",
            code="order.change_request_invalid",
            title="退回或终止申请信息有误",
            errors=[_field("lines", "leave out for the whole order, or set scope to lines")],
        )
    if data.scope == "order":
        scope = "order"
        changes = [
            {"line_id": str(x.id), "line_no": x.line_no, "quantity": orders.remaining(x)}
            for x in lines
            if orders.remaining(x) > 0
        ]
    else:
        scope = "lines"
        errors, changes, seen = [], [], set()
        if not data.lines:
            errors.append(
                _field("lines", "name at least one line, or leave out for the whole order")
            )
        for index, change in enumerate(data.lines or []):
            line = by_id.get(change.line_id)
            if line is None:
                errors.append(_field(f"lines[{index}].line_id", "not a line of this order"))
            elif change.line_id in seen:
                errors.append(_field(f"lines[{index}].line_id", "named twice"))
            elif not 0 < change.quantity <= orders.remaining(line):
                errors.append(
                    _field(
                        f"lines[{index}].quantity",
                        f"between 1 and the {orders.remaining(line)} still on the order",
                    )
                )
            else:
                changes.append(
                    {"line_id": str(line.id), "line_no": line.line_no, "quantity": change.quantity}
                )
            seen.add(change.line_id)
        if errors:
            raise InvalidError(
                "The change request is not valid; see errors.",
                code="order.change_request_invalid",
                title="退回或终止申请信息有误",
                errors=errors,
            )
    return scope, changes


async def submit(
    session: AsyncSession,
    calendar: WorkCalendar,
    sla_settings: SlaSettings,
    principal: Principal,
    order_id: uuid.UUID,
    data: ChangeRequestInput,
) -> tuple[OrderChangeRequest, SlaClock]:
    order = await orders.get_visible(session, principal, order_id, lock=True)
    if order.status not in CHANGEABLE_STATUSES:
        raise ConflictError(
            f"The order is {order.status}; returns and terminations are for orders in progress.",
            code="order.change_not_allowed",
            title="订单当前状态不能申请退回或终止",
            current_status=order.status,
            allowed=list(CHANGEABLE_STATUSES),
        )
    require_terminable(order, data.type)
    pending = await session.scalar(
        select(OrderChangeRequest.id).where(
            OrderChangeRequest.order_id == order.id, OrderChangeRequest.status.in_(OPEN_STATUSES)
        )
    )
    if pending is not None:
        raise ConflictError(
            "A change request for this order is being verified already.",
            code="order.change_request_open",
            title="该订单已有待审核的退回或终止申请",
            change_request_id=str(pending),
        )
    scope, changes = _changes(data, await orders.lines_of(session, order.id))
    if not changes:
        raise ConflictError(
            "Nothing is left on the order to return or terminate.",
            code="order.change_not_allowed",
            title="订单已无可退回或终止的商品",
        )
    now = _now()
    request = OrderChangeRequest(
        order_id=order.id,
        purchaser_org_id=order.purchaser_org_id,
        supplier_org_id=order.supplier_org_id,
        type=data.type,
        scope=scope,
        lines=changes,
        reason=data.reason,
        explanation=data.explanation.strip(),
        attachments=data.attachments or [],
        status="submitted",
        submitted_by=principal.user_id,
        submitted_at=now,
        comments=[],
    )
    session.add(request)
    await session.flush()
    clock = await sla.start(
        session,
        calendar,
        sla_settings,
        subject_type=SUBJECT,
        subject_id=request.id,
        kind=CLOCK,
        responsible_org_id=None,
        started_at=now,
    )
    name = TYPE_NAMES_ZH[data.type]
    await notify(
        session,
        org_id=order.supplier_org_id,
        kind="order.change_requested",
        title_zh=f"采购单位申请{name}（订单 {order.id}），可在审核前发表意见",
        title_en=f"The purchasing unit asks for a {data.type} of order {order.id};"
        " comment before it is verified",
        body_zh=request.explanation,
        body_en=f"reason: {data.reason}",
        subject=(SUBJECT, request.id),
    )
    await _notify_operators(
        session,
        kind="order.change_requested",
        title_zh=f"新的{name}申请待审核（订单 {order.id}，1个工作日内）",
        title_en=f"A {data.type} request on order {order.id} to verify within 1 working day",
        subject=request.id,
    )
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="order_change_request.submitted",
        subject_type=SUBJECT,
        subject_id=request.id,
        after={
            "order_id": order.id,
            "type": data.type,
            "scope": scope,
            "lines": changes,
            "reason": data.reason,
            "due_at": clock.due_at,
        },
        note=request.explanation,
    )
    return request, clock


async def _notify_operators(
    session: AsyncSession, *, kind: str, title_zh: str, title_en: str, subject: uuid.UUID
) -> None:
    for org_id in (
        await session.scalars(
            select(Organisation.id).where(
                Organisation.kind == OrgKind.OPERATOR.value, Organisation.status == "active"
            )
        )
    ).all():
        await notify(
            session,
            org_id=org_id,
            kind=kind,
            title_zh=title_zh,
            title_en=title_en,
            subject=(SUBJECT, subject),
        )


async def get_for_party(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, request_id: uuid.UUID
) -> OrderChangeRequest:
    """A change request of an order the caller sees (parties, operators, regulators)."""
    await orders.get_visible(session, principal, order_id)
    request = (
        await session.scalars(
            select(OrderChangeRequest).where(
                OrderChangeRequest.id == request_id, OrderChangeRequest.order_id == order_id
            )
        )
    ).one_or_none()
    if request is None:
        raise _not_found()
    return request


async def list_for_order(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID
) -> Sequence[OrderChangeRequest]:
    await orders.get_visible(session, principal, order_id)
    return (
        await session.scalars(
            select(OrderChangeRequest)
            .where(OrderChangeRequest.order_id == order_id)
            .order_by(OrderChangeRequest.submitted_at)
        )
    ).all()


async def clock_of(session: AsyncSession, request_id: uuid.UUID) -> SlaClock | None:
    return (
        await session.scalars(
            select(SlaClock).where(
                SlaClock.subject_type == SUBJECT,
                SlaClock.subject_id == str(request_id),
                SlaClock.kind == CLOCK,
            )
        )
    ).one_or_none()


async def comment(
    session: AsyncSession,
    principal: Principal,
    order_id: uuid.UUID,
    request_id: uuid.UUID,
    text_: str,
) -> OrderChangeRequest:
    """The supplier's view (or the unit's addition) on an open request."""
    await orders.get_visible(session, principal, order_id)
    request = await _locked(session, request_id, order_id)
    _require(request, *OPEN_STATUSES)
    entry = {
        "org_id": str(principal.org_id),
        "org_kind": principal.org_kind.value,
        "user_id": str(principal.user_id),
        "at": _now().isoformat(),
        "text": text_.strip(),
    }
    request.comments = [*request.comments, entry]
    other = (
        request.purchaser_org_id
        if principal.org_kind is OrgKind.SUPPLIER
        else request.supplier_org_id
    )
    await notify(
        session,
        org_id=other,
        kind="order.change_request_comment",
        title_zh=f"退回/终止申请有新的意见（订单 {request.order_id}）",
        title_en=f"A new comment on a change request (order {request.order_id})",
        body_zh=entry["text"],
        body_en=entry["text"],
        subject=(SUBJECT, request.id),
    )
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="order_change_request.commented",
        subject_type=SUBJECT,
        subject_id=request.id,
        note=entry["text"],
    )
    return request


async def respond(
    session: AsyncSession,
    calendar: WorkCalendar,
    principal: Principal,
    order_id: uuid.UUID,
    request_id: uuid.UUID,
    text_: str,
) -> OrderChangeRequest:
    """The unit answers a request for information; the clock runs again."""
    await orders.get_visible(session, principal, order_id)
    request = await _locked(session, request_id, order_id)
    _require(request, "info_requested")
    actor = audit.Actor.of(principal)
    request.status = "submitted"
    request.comments = [
        *request.comments,
        {
            "org_id": str(principal.org_id),
            "org_kind": principal.org_kind.value,
            "user_id": str(principal.user_id),
            "at": _now().isoformat(),
            "text": text_.strip(),
        },
    ]
    clock = await sla.resume(
        session, calendar, subject_type=SUBJECT, subject_id=request.id, kind=CLOCK, actor=actor
    )
    await audit.record(
        session,
        actor=actor,
        action="order_change_request.resubmitted",
        subject_type=SUBJECT,
        subject_id=request.id,
        before={"status": "info_requested"},
        after={"status": "submitted", "due_at": clock.due_at},
        note=text_.strip(),
    )
    return request


async def queue(
    session: AsyncSession, status: str | None, limit: int = 100, offset: int = 0
) -> Sequence[tuple[OrderChangeRequest, SlaClock]]:
    """Change requests for operators, the soonest due first."""
    if status and status not in CHANGE_STATUSES:
        raise InvalidError(
            f"Unknown status {status!r}.",
            code="request.validation_failed",
            title="请求内容未通过校验",
            errors=[{"field": "status", "source": "query", "message": "not a request status"}],
        )
    return await sla.due_first(
        session,
        OrderChangeRequest,
        subject_type=SUBJECT,
        kind=CLOCK,
        status=status,
        limit=limit,
        offset=offset,
    )


async def get_any(session: AsyncSession, request_id: uuid.UUID) -> OrderChangeRequest:
    request = await session.get(OrderChangeRequest, request_id)
    if request is None:
        raise _not_found()
    return request


async def _locked(
    session: AsyncSession, request_id: uuid.UUID, order_id: uuid.UUID | None = None
) -> OrderChangeRequest:
    query = select(OrderChangeRequest).where(OrderChangeRequest.id == request_id)
    if order_id is not None:
        query = query.where(OrderChangeRequest.order_id == order_id)
    # populate_existing: a row read earlier in this session is read again under the lock.
    request = (
        await session.scalars(query.with_for_update().execution_options(populate_existing=True))
    ).one_or_none()
    if request is None:
        raise _not_found()
    return request


def _require(request: OrderChangeRequest, *allowed: str) -> None:
    if request.status not in allowed:
        raise ConflictError(
            f"The change request is {request.status}; this needs it to be {' or '.join(allowed)}.",
            code="order.change_request_state",
            title="申请当前状态不允许此操作",
            current_status=request.status,
            allowed=list(allowed),
        )


async def approve(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID
) -> OrderChangeRequest:
    """Take the quantities out of the order and put them back in stock (once)."""
    # The order first, then the request: the order's transitions lock in that order too.
    order_id = await session.scalar(
        select(OrderChangeRequest.order_id).where(OrderChangeRequest.id == request_id)
    )
    if order_id is None:
        raise _not_found()
    order = await session.get_one(
        PurchaseOrder, order_id, with_for_update=True, populate_existing=True
    )
    request = await _locked(session, request_id)
    if request.status == "approved":
        return request  # a retried approval: done already, nothing changes
    _require(request, "submitted")
    if order.status not in CHANGEABLE_STATUSES:
        raise ConflictError(
            f"The order is {order.status} now; reject the request instead.",
            code="order.change_not_allowed",
            title="订单当前状态不能退回或终止",
            current_status=order.status,
        )
    # The supplier may have shipped while the termination waited: refused now too.
    require_terminable(order, request.type)
    now = _now()
    lines = {line.id: line for line in await orders.lines_of(session, order.id)}
    taken: list[tuple[OrderLine, int]] = []
    for change in request.lines:
        line = lines[uuid.UUID(change["line_id"])]
        quantity = min(int(change["quantity"]), orders.remaining(line))
        if quantity <= 0:
            continue
        if request.type == "return":
            line.returned_quantity += quantity
        else:
            line.cancelled_quantity += quantity
        line.amount = (line.unit_price * orders.remaining(line)).quantize(Decimal("0.01"))
        taken.append((line, quantity))
    restored = await orders.restore_stock(session, taken)
    before_total, before_status = order.total_amount, order.status
    order.total_amount = sum((x.amount for x in lines.values()), start=Decimal("0.00"))
    voided = _void_invoice(order, now)
    if all(orders.remaining(x) == 0 for x in lines.values()):
        order.status = "returned" if request.type == "return" else "terminated"
        order.status_changed_at = now
        order.status_reason = request.reason
        await orders.close_open_clocks(session, order.id, now)
    elif voided:
        # The payment owed on the voided invoice is owed no more; the next
        # invoice received starts a clock of its own.
        await orders.meet_open_clock(session, order.id, "payment", now)
    request.status = "approved"
    request.decided_at = now
    request.decided_by = principal.user_id
    request.outcome = {
        "total_before": str(before_total),
        "total_after": str(order.total_amount),
        "order_status": order.status,
        "stock_restored": restored,
        "invoice_voided": bool(voided),
    }
    await sla.meet(session, subject_type=SUBJECT, subject_id=request.id, kind=CLOCK, at=now)
    name = TYPE_NAMES_ZH[request.type]
    for org_id in (order.purchaser_org_id, order.supplier_org_id):
        await notify(
            session,
            org_id=org_id,
            kind="order.change_approved",
            title_zh=f"{name}申请已通过审核（订单 {order.id}）",
            title_en=f"The {request.type} request on order {order.id} was approved",
            body_zh=f"订单金额 {before_total} → {order.total_amount} 元",
            body_en=f"Order amount CNY {before_total} -> {order.total_amount}",
            subject=(SUBJECT, request.id),
        )
    if voided:
        await _notify_invoice_voided(session, order, voided)
    actor = audit.Actor.of(principal)
    events = [
        audit.Event(
            actor,
            "order_change_request.approved",
            SUBJECT,
            request.id,
            before={"status": "submitted"},
            after={"status": "approved", **request.outcome},
        ),
        audit.Event(
            actor,
            f"order.{request.type}_applied",
            orders.SUBJECT,
            order.id,
            before={"status": before_status, "total_amount": before_total},
            after={
                "status": order.status,
                "total_amount": order.total_amount,
                "change_request_id": request.id,
                "lines": request.lines,
            },
        ),
    ]
    if voided:
        events.append(
            audit.Event(
                actor,
                "order.invoice_voided",
                orders.SUBJECT,
                order.id,
                before={"status": before_status, **voided},
                after={
                    "status": order.status,
                    "total_amount": order.total_amount,
                    "change_request_id": request.id,
                },
                note="变更后发票金额与订单金额不符，原发票作废",
            )
        )
    await audit.record_many(session, events)
    return request


def _void_invoice(order: PurchaseOrder, now: dt.datetime) -> dict[str, Any]:
    """An approved change after invoicing leaves the invoice for an amount the
    contract no longer has: it is void, and an order still in progress goes back
    to ``accepted`` for the supplier to invoice what remains. Returns the voided
    invoice (empty when there was none)."""
    if order.status not in ("invoiced", "invoice_received"):
        return {}
    voided = {
        "invoice_number": order.invoice_number,
        "invoice_amount": order.invoice_amount,
        "invoice_issued_on": order.invoice_issued_on,
    }
    order.invoice_number = order.invoice_amount = order.invoice_issued_on = None
    order.status = "accepted"
    order.status_changed_at = now
    return voided


async def _notify_invoice_voided(
    session: AsyncSession, order: PurchaseOrder, voided: dict[str, Any]
) -> None:
    number, amount = voided["invoice_number"], voided["invoice_amount"]
    body_zh = f"发票 {number}（{amount} 元）作废；订单金额现为 {order.total_amount} 元"
    body_en = (
        f"Invoice {number} (CNY {amount}) is void; the order's amount is CNY {order.total_amount}"
    )
    if order.status == "accepted":
        to_supplier = ("发票已作废，请按变更后的订单金额重新开具", "Invoice void: issue a new one")
    else:
        to_supplier = ("发票已作废，订单已无剩余商品", "Invoice void: nothing is left on the order")
    for org_id, (title_zh, title_en) in (
        (order.supplier_org_id, to_supplier),
        (
            order.purchaser_org_id,
            ("订单变更，原发票已作废", "The order changed; its invoice is void"),
        ),
    ):
        await notify(
            session,
            org_id=org_id,
            kind="order.invoice_voided",
            title_zh=title_zh,
            title_en=title_en,
            body_zh=body_zh,
            body_en=body_en,
            subject=(orders.SUBJECT, order.id),
        )


async def reject(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, reason: str
) -> OrderChangeRequest:
    request = await _locked(session, request_id)
    _require(request, "submitted", "info_requested")
    now = _now()
    request.status = "rejected"
    request.decided_at = now
    request.decided_by = principal.user_id
    request.rejection_reason = reason.strip()
    await sla.meet(session, subject_type=SUBJECT, subject_id=request.id, kind=CLOCK, at=now)
    name = TYPE_NAMES_ZH[request.type]
    for org_id in (request.purchaser_org_id, request.supplier_org_id):
        await notify(
            session,
            org_id=org_id,
            kind="order.change_rejected",
            title_zh=f"{name}申请未通过审核（订单 {request.order_id}）",
            title_en=f"The {request.type} request on order {request.order_id} was rejected",
            body_zh=request.rejection_reason,
            body_en=request.rejection_reason,
            subject=(SUBJECT, request.id),
        )
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="order_change_request.rejected",
        subject_type=SUBJECT,
        subject_id=request.id,
        before={"status": "submitted"},
        after={"status": "rejected"},
        note=request.rejection_reason,
    )
    return request


async def request_info(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, message: str
) -> OrderChangeRequest:
    """Ask the unit for more; the verification clock stops until it answers."""
    request = await _locked(session, request_id)
    _require(request, "submitted")
    actor = audit.Actor.of(principal)
    request.status = "info_requested"
    request.info_request = message.strip()
    await sla.pause(
        session,
        subject_type=SUBJECT,
        subject_id=request.id,
        kind=CLOCK,
        reason="info_requested",
        actor=actor,
    )
    await notify(
        session,
        org_id=request.purchaser_org_id,
        kind="order.change_info_requested",
        title_zh=f"退回/终止申请需补充说明（订单 {request.order_id}）",
        title_en=f"Your change request on order {request.order_id} needs more information",
        body_zh=request.info_request,
        body_en=request.info_request,
        subject=(SUBJECT, request.id),
    )
    await audit.record(
        session,
        actor=actor,
        action="order_change_request.info_requested",
        subject_type=SUBJECT,
        subject_id=request.id,
        before={"status": "submitted"},
        after={"status": "info_requested"},
        note=request.info_request,
    )
    return request
