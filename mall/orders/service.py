"""Placing orders and moving them through their lifecycle.

An order is the electronic contract between one purchasing unit and one
supplier. Placing it snapshots the live revision of each listing and reserves
stock in the order's own transaction, all lines or nothing: the live
revisions are locked in listing order, then one conditional UPDATE takes
every line's quantity. Every transition is made by one side
only, checked against the order row locked for the change, and writes its
audit event, a notice to the other side and the SLA clocks it starts or meets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils import uuid7

from mall import audit
from mall.audit.models import AuditEvent
from mall.auth.models import OrgKind
from mall.auth.principal import Principal
from mall.calendar.core import WorkCalendar
from mall.errors import ConflictError, InvalidError, NotFoundError
from mall.jobs.outbox import enqueue_job
from mall.notifications.service import DELIVER_JOB, notify
from mall.notifications.texts import deadline_en, deadline_zh
from mall.orders.models import (
    ORDER_STATUSES,
    OrderChangeRequest,
    OrderIdempotencyKey,
    OrderLine,
    PurchaseOrder,
)
from mall.settings import SlaSettings
from mall.sla import service as sla
from mall.sla.models import SlaClock

SUBJECT = "order"
CHANGE_SUBJECT = "order_change_request"
MAX_TOTAL = Decimal("999999999999.99")
RESERVABLE_STATUSES = ("draft", "submitted", "manual_review")
# A Chinese mobile number (11 digits from 13x to 19x, optionally grouped 3-4-4)
# or a landline with its area code (010, 0472 …) and 7 or 8 digits, then maybe
# an extension; either may start with +86 (a landline then drops its leading 0).
CONTACT_PHONE = re.compile(
    r"(?:\+86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}"
    r"|(?:\+86[ -]?0?|0)[1-9]\d{1,2}[ -]?[2-9]\d{6,7}(?:(?:-|转|#|ext\.?\s?)\d{1,6})?"
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _field(name: str, message: str) -> dict[str, str]:
    return {"field": name, "message": message}


# ---------------------------------------------------------------- placing


@dataclass(frozen=True, slots=True)
class LineRequest:
    listing_id: uuid.UUID
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderRequest:
    lines: list[LineRequest]
    delivery_address: str
    contact_name: str
    contact_phone: str
    budget_code: str
    funding_source: str
    requested_delivery_date: dt.date | None = None
    note: str | None = None

    def sha256(self) -> str:
        """A digest of the request as the caller meant it (same body, same digest)."""
        body = {
            "lines": [[str(line.listing_id), line.quantity] for line in self.lines],
            "delivery_address": self.delivery_address,
            "contact_name": self.contact_name,
            "contact_phone": self.contact_phone,
            "budget_code": self.budget_code,
            "funding_source": self.funding_source,
            "requested_delivery_date": (
                self.requested_delivery_date.isoformat() if self.requested_delivery_date else None
            ),
            "note": self.note,
        }
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Placed:
    order: PurchaseOrder
    lines: list[OrderLine]
    replayed: bool


def _validate(data: OrderRequest, today: dt.date) -> None:
    errors = []
    if not data.lines:
        errors.append(_field("lines", "order at least one listing"))
    seen: set[uuid.UUID] = set()
    for index, line in enumerate(data.lines):
        if line.quantity <= 0:
            errors.append(_field(f"lines[{index}].quantity", "must be a positive whole number"))
        if line.listing_id in seen:
            errors.append(_field(f"lines[{index}].listing_id", "listed twice; order the sum once"))
        seen.add(line.listing_id)
    for name, what in (
        ("delivery_address", "the delivery address"),
        ("contact_name", "the contact's name"),
        ("budget_code", "the unit's budget project code"),
    ):
        if not getattr(data, name).strip():
            errors.append(_field(name, f"{what} is required"))
    phone = data.contact_phone.strip()
    if not phone:
        errors.append(_field("contact_phone", "the contact's telephone number is required"))
    elif not CONTACT_PHONE.fullmatch(phone):
        errors.append(
            _field(
                "contact_phone",
                "a mobile number (13812345678) or a landline with its area code"
                " (0472-5123456, extension after -), optionally starting with +86",
            )
        )
    if data.requested_delivery_date is not None and data.requested_delivery_date < today:
        errors.append(_field("requested_delivery_date", "must not be in the past"))
    if errors:
        raise InvalidError(
            "The order is not valid; see errors.",
            code="order.invalid",
            title="订单信息有误",
            errors=errors,
        )


# The listings and their live revisions, locked in listing order: the
# listing shared (no delisting or approval meanwhile), the revision for
# update (its stock is then the latest and stays so until commit).
_LISTINGS_SQL = text(
    """
    SELECT l.id, l.supplier_id, l.category_code, l.live_revision_id, l.current_revision_id,
           l.delisted_at, r.title, r.price, r.unit, r.stock, o.status AS supplier_status,
           cur.status AS current_status
    FROM listing l
    JOIN listing_revision r ON r.id = l.live_revision_id
    JOIN organisation o ON o.id = l.supplier_id
    LEFT JOIN listing_revision cur ON cur.id = l.current_revision_id
    WHERE l.id = ANY(:ids)
    ORDER BY l.id
    FOR SHARE OF l FOR UPDATE OF r
    """
)
# Every line's reservation in one statement, each still conditional on the
# stock; the rows are locked already, in listing order, so no two orders
# wait on each other in a cycle.
_RESERVE_SQL = text(
    """
    UPDATE listing_revision r SET stock = r.stock - v.q
    FROM unnest(CAST(:ids AS uuid[]), CAST(:qs AS int[])) AS v(id, q)
    WHERE r.id = v.id AND r.stock >= v.q
    RETURNING r.id
    """
)
# A newer revision waiting for approval carries the stock its supplier declared
# when editing; units sold meanwhile are taken off it too (as many as it has),
# so its approval does not put them back on sale. Each line records how many
# were taken, to give back exactly those.
_RESERVE_PENDING_SQL = text(
    """
    WITH had AS (
        SELECT r.id, least(r.stock, v.q) AS taken
        FROM listing_revision r
        JOIN unnest(CAST(:ids AS uuid[]), CAST(:qs AS int[])) AS v(id, q) ON v.id = r.id
        WHERE r.status IN ('draft', 'submitted', 'manual_review')
        ORDER BY r.id
        FOR UPDATE OF r
    )
    UPDATE listing_revision r SET stock = r.stock - had.taken
    FROM had WHERE r.id = had.id AND had.taken > 0
    RETURNING r.id, had.taken
    """
)
# The order, its lines, its two clocks, the key's order id and the supplier's
# notice, in one round trip.
_CREATE_SQL = text(
    """
    WITH o AS (
        INSERT INTO purchase_order (
            id, purchaser_org_id, supplier_org_id, placed_by, status, placed_at,
            status_changed_at, delivery_address, contact_name, contact_phone, budget_code,
            funding_source, requested_delivery_date, note, total_amount, acceptance_round,
            created_at, updated_at)
        VALUES (:id, :purchaser, :supplier, :placed_by, 'placed', :now, :now, :address,
                :contact_name, :contact_phone, :budget_code, :funding_source, :delivery_date,
                :note, :total, 0, :now, :now)
        RETURNING id
    ), lines AS (
        INSERT INTO order_line (
            id, order_id, line_no, listing_id, revision_id, category_code, title, unit,
            unit_price, quantity, pending_revision_id, pending_taken, cancelled_quantity,
            returned_quantity, amount, created_at, updated_at)
        SELECT x.id, o.id, x.line_no, x.listing_id, x.revision_id, x.category_code, x.title,
               x.unit, x.unit_price, x.quantity, x.pending_revision_id, x.pending_taken, 0, 0,
               x.amount, :now, :now
        FROM o, unnest(CAST(:line_ids AS uuid[]), CAST(:line_nos AS int[]),
                       CAST(:listing_ids AS uuid[]), CAST(:revision_ids AS uuid[]),
                       CAST(:category_codes AS text[]), CAST(:titles AS text[]),
                       CAST(:units AS text[]), CAST(:unit_prices AS numeric[]),
                       CAST(:quantities AS int[]), CAST(:pending_revision_ids AS uuid[]),
                       CAST(:pending_taken AS int[]), CAST(:amounts AS numeric[]))
             AS x(id, line_no, listing_id, revision_id, category_code, title, unit, unit_price,
                  quantity, pending_revision_id, pending_taken, amount)
        RETURNING 1
    ), clocks AS (
        INSERT INTO sla_clock (
            id, subject_type, subject_id, kind, responsible_org_id, started_at, working_days,
            due_at, provisional, paused_working_days, created_at, updated_at)
        SELECT c.id, 'order', CAST(o.id AS text), c.kind, :supplier, :now, c.days, c.due,
               c.provisional, 0, :now, :now
        FROM o, unnest(CAST(:clock_ids AS uuid[]), CAST(:clock_kinds AS text[]),
                       CAST(:clock_days AS int[]), CAST(:clock_dues AS timestamptz[]),
                       CAST(:clock_provisional AS boolean[]))
             AS c(id, kind, days, due, provisional)
        RETURNING 1
    ), k AS (
        UPDATE order_idempotency_key SET order_id = o.id, updated_at = :now
        FROM o WHERE order_idempotency_key.id = :key_id
        RETURNING 1
    ), n AS (
        INSERT INTO notification (
            id, org_id, kind, title_zh, title_en, body_zh, body_en, subject_type, subject_id,
            created_at, updated_at)
        SELECT :note_id, :supplier, 'order.placed', :note_title_zh, :note_title_en,
               :note_body_zh, :note_body_en, 'order', CAST(o.id AS text), :now, :now
        FROM o
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM lines) AS lines, (SELECT count(*) FROM clocks) AS clocks,
           (SELECT count(*) FROM k) AS keys, (SELECT count(*) FROM n) AS notes
    """
)


def _uuid7() -> uuid.UUID:
    return uuid.UUID(str(uuid7()))


async def _claim_key(
    session: AsyncSession, org_id: uuid.UUID, key: str, digest: str
) -> tuple[uuid.UUID, OrderIdempotencyKey | None]:
    """Take the key for this request (its row id), or find the row of an earlier one.

    Two requests with the same key at once: the second INSERT waits for the
    first transaction; if it committed, the second sees its row.
    """
    key_id, now = _uuid7(), _now()
    inserted = (
        await session.execute(
            pg_insert(OrderIdempotencyKey)
            .values(
                id=key_id,
                purchaser_org_id=org_id,
                key=key,
                request_sha256=digest,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(constraint="uq_order_idempotency_key")
            .returning(OrderIdempotencyKey.id)
        )
    ).scalar_one_or_none()
    if inserted is not None:
        return key_id, None
    earlier = (
        await session.scalars(
            select(OrderIdempotencyKey).where(
                OrderIdempotencyKey.purchaser_org_id == org_id, OrderIdempotencyKey.key == key
            )
        )
    ).one()
    return earlier.id, earlier


def _check_listings(
    rows: dict[uuid.UUID, Any], wanted: dict[uuid.UUID, int], index_of: dict[uuid.UUID, int]
) -> tuple[uuid.UUID, Decimal]:
    """Every listing on sale, from one trading supplier; returns the supplier and the total."""
    errors = []
    for listing_id, index in index_of.items():
        row = rows.get(listing_id)
        if row is None or row.live_revision_id is None or row.delisted_at is not None:
            errors.append(_field(f"lines[{index}].listing_id", "not on sale"))
        elif row.supplier_status != "active":
            errors.append(_field(f"lines[{index}].listing_id", "the supplier may not trade now"))
    if errors:
        raise InvalidError(
            "Some listings cannot be ordered; see errors.",
            code="order.listing_not_on_sale",
            title="商品不在售，无法下单",
            errors=errors,
        )
    suppliers = {row.supplier_id for row in rows.values()}
    if len(suppliers) > 1:
        raise InvalidError(
            "One order is placed with one supplier; split the cart into one order per supplier.",
            code="order.several_suppliers",
            title="一个订单只能包含同一供应商的商品",
            errors=[_field("lines", "listings of more than one supplier")],
        )
    total = sum(
        (rows[lid].price * qty for lid, qty in wanted.items()), start=Decimal("0")
    ).quantize(Decimal("0.01"))
    if total > MAX_TOTAL:
        raise InvalidError(
            "The order's amount is too large.",
            code="order.amount_too_large",
            title="订单金额超出上限",
            errors=[_field("lines", "total above 999,999,999,999.99 yuan")],
        )
    return suppliers.pop(), total


async def _reserve(
    session: AsyncSession,
    rows: dict[uuid.UUID, Any],
    wanted: dict[uuid.UUID, int],
    index_of: dict[uuid.UUID, int],
) -> dict[uuid.UUID, tuple[uuid.UUID, int]]:
    """Reserve every line or none; the locked rows say which lines are short.

    Returns, per listing, the revision awaiting approval that units were also
    taken off, and how many."""
    order = sorted(wanted)
    short = [lid for lid in order if rows[lid].stock < wanted[lid]]
    if not short:
        reserved = (
            await session.execute(
                _RESERVE_SQL,
                {
                    "ids": [rows[lid].live_revision_id for lid in order],
                    "qs": [wanted[lid] for lid in order],
                },
            )
        ).all()
        if len(reserved) != len(order):  # cannot happen while the rows are locked
            raise RuntimeError("stock changed under a row lock")
    if short:
        raise ConflictError(
            "Not enough stock for some lines; nothing was reserved.",
            code="order.insufficient_stock",
            title="库存不足",
            errors=[
                {
                    "field": f"lines[{index_of[lid]}].quantity",
                    "message": f"only {rows[lid].stock} in stock",
                    "available": rows[lid].stock,
                }
                for lid in short
            ],
        )
    pending = {
        rows[lid].current_revision_id: lid
        for lid in order
        if rows[lid].current_revision_id != rows[lid].live_revision_id
        and rows[lid].current_status in RESERVABLE_STATUSES
    }
    if not pending:
        return {}
    taken = await session.execute(
        _RESERVE_PENDING_SQL,
        {"ids": list(pending), "qs": [wanted[lid] for lid in pending.values()]},
    )
    return {pending[row.id]: (row.id, row.taken) for row in taken}


async def place(
    session: AsyncSession,
    calendar: WorkCalendar,
    sla_settings: SlaSettings,
    principal: Principal,
    data: OrderRequest,
    *,
    idempotency_key: str,
) -> Placed:
    """Place an order: snapshot the live revisions, reserve stock, start the clocks."""
    now = _now()
    _validate(data, now.date())
    digest = data.sha256()
    key_id, earlier = await _claim_key(session, principal.org_id, idempotency_key, digest)
    if earlier is not None:
        if earlier.request_sha256 != digest or earlier.order_id is None:
            raise ConflictError(
                "This Idempotency-Key was used with a different request.",
                code="order.idempotency_conflict",
                title="幂等键已用于不同的下单请求",
                errors=[_field("Idempotency-Key", "already used with another body")],
            )
        order = await session.get_one(PurchaseOrder, earlier.order_id)
        return Placed(order=order, lines=list(await lines_of(session, order.id)), replayed=True)

    wanted = {line.listing_id: line.quantity for line in data.lines}
    rows = {row.id: row for row in await session.execute(_LISTINGS_SQL, {"ids": list(wanted)})}
    index_of = {line.listing_id: i for i, line in enumerate(data.lines)}
    supplier_id, total = _check_listings(rows, wanted, index_of)
    from_pending = await _reserve(session, rows, wanted, index_of)

    # Built in memory for the answer; written below in one statement.
    order = PurchaseOrder(
        id=_uuid7(),
        purchaser_org_id=principal.org_id,
        supplier_org_id=supplier_id,
        placed_by=principal.user_id,
        status="placed",
        placed_at=now,
        status_changed_at=now,
        delivery_address=data.delivery_address.strip(),
        contact_name=data.contact_name.strip(),
        contact_phone=data.contact_phone.strip(),
        budget_code=data.budget_code.strip(),
        funding_source=data.funding_source,
        requested_delivery_date=data.requested_delivery_date,
        note=(data.note or "").strip() or None,
        total_amount=total,
        acceptance_round=0,
        status_reason=None,
        invoice_number=None,
        invoice_amount=None,
        invoice_issued_on=None,
        payment_reference=None,
        paid_amount=None,
    )
    lines = []
    for line_no, line in enumerate(data.lines, start=1):
        row = rows[line.listing_id]
        lines.append(
            OrderLine(
                id=_uuid7(),
                order_id=order.id,
                line_no=line_no,
                listing_id=line.listing_id,
                revision_id=row.live_revision_id,
                category_code=row.category_code,
                title=row.title,
                unit=row.unit,
                unit_price=row.price,
                quantity=line.quantity,
                pending_revision_id=from_pending.get(line.listing_id, (None, 0))[0],
                pending_taken=from_pending.get(line.listing_id, (None, 0))[1],
                cancelled_quantity=0,
                returned_quantity=0,
                amount=(row.price * line.quantity).quantize(Decimal("0.01")),
            )
        )
    clock_kinds = ("order_confirmation", "contract")
    deadlines = [calendar.deadline(now, sla_settings.days_for(kind)) for kind in clock_kinds]
    note_id = _uuid7()
    written = (
        await session.execute(
            _CREATE_SQL,
            {
                "id": order.id,
                "purchaser": order.purchaser_org_id,
                "supplier": supplier_id,
                "placed_by": order.placed_by,
                "now": now,
                "address": order.delivery_address,
                "contact_name": order.contact_name,
                "contact_phone": order.contact_phone,
                "budget_code": order.budget_code,
                "funding_source": order.funding_source,
                "delivery_date": order.requested_delivery_date,
                "note": order.note,
                "total": total,
                "line_ids": [x.id for x in lines],
                "line_nos": [x.line_no for x in lines],
                "listing_ids": [x.listing_id for x in lines],
                "revision_ids": [x.revision_id for x in lines],
                "category_codes": [x.category_code for x in lines],
                "titles": [x.title for x in lines],
                "units": [x.unit for x in lines],
                "unit_prices": [x.unit_price for x in lines],
                "quantities": [x.quantity for x in lines],
                "pending_revision_ids": [x.pending_revision_id for x in lines],
                "pending_taken": [x.pending_taken for x in lines],
                "amounts": [x.amount for x in lines],
                "clock_ids": [_uuid7() for _ in clock_kinds],
                "clock_kinds": list(clock_kinds),
                "clock_days": [sla_settings.days_for(kind) for kind in clock_kinds],
                "clock_dues": [d.due_at for d in deadlines],
                "clock_provisional": [d.provisional for d in deadlines],
                "key_id": key_id,
                "note_id": note_id,
                "note_title_zh": f"新订单 {order.id} 待确认：{total} 元，"
                f"请于 {deadline_zh(deadlines[0].due_at)}前确认",
                "note_title_en": f"New order {order.id} to confirm: CNY {total},"
                f" by {deadline_en(deadlines[0].due_at)}",
                "note_body_zh": "；".join(f"{x.title} × {x.quantity}{x.unit}" for x in lines),
                "note_body_en": "; ".join(f"{x.title} x {x.quantity} {x.unit}" for x in lines),
            },
        )
    ).one()
    if (written.lines, written.clocks, written.keys, written.notes) != (len(lines), 2, 1, 1):
        raise RuntimeError(f"placing order {order.id} wrote {tuple(written)}")
    await enqueue_job(session, DELIVER_JOB, key=note_id, notification_id=str(note_id))
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action="order.placed",
        subject_type=SUBJECT,
        subject_id=order.id,
        after={
            "status": "placed",
            "supplier_org_id": supplier_id,
            "total_amount": total,
            "budget_code": order.budget_code,
            "funding_source": order.funding_source,
            "lines": [
                {
                    "listing_id": x.listing_id,
                    "revision_id": x.revision_id,
                    "quantity": x.quantity,
                    "unit_price": x.unit_price,
                }
                for x in lines
            ],
        },
    )
    return Placed(order=order, lines=lines, replayed=False)


# ---------------------------------------------------------------- visibility


def visible(principal: Principal) -> Any:
    """The condition on purchase_order rows this caller may see."""
    if principal.org_kind is OrgKind.PURCHASER:
        return PurchaseOrder.purchaser_org_id == principal.org_id
    if principal.org_kind is OrgKind.SUPPLIER:
        return PurchaseOrder.supplier_org_id == principal.org_id
    return and_(True)


def _not_found() -> NotFoundError:
    return NotFoundError("No such order.", code="order.not_found", title="未找到该订单")


async def get_visible(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, *, lock: bool = False
) -> PurchaseOrder:
    query = select(PurchaseOrder).where(PurchaseOrder.id == order_id, visible(principal))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    order = (await session.scalars(query)).one_or_none()
    if order is None:
        raise _not_found()
    return order


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    placed_from: dt.datetime | None = None,
    placed_to: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[PurchaseOrder]:
    if status and status not in ORDER_STATUSES:
        raise InvalidError(
            f"Unknown status {status!r}.",
            code="request.validation_failed",
            title="请求内容未通过校验",
            errors=[{"field": "status", "source": "query", "message": "not an order status"}],
        )
    query = select(PurchaseOrder).where(visible(principal))
    if status:
        query = query.where(PurchaseOrder.status == status)
    if placed_from:
        query = query.where(PurchaseOrder.placed_at >= placed_from)
    if placed_to:
        query = query.where(PurchaseOrder.placed_at < placed_to)
    query = query.order_by(PurchaseOrder.placed_at.desc(), PurchaseOrder.id.desc())
    return (await session.scalars(query.limit(limit).offset(offset))).all()


async def lines_of(session: AsyncSession, order_id: uuid.UUID) -> Sequence[OrderLine]:
    return (
        await session.scalars(
            select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.line_no)
        )
    ).all()


def _clock_subjects(order_id: uuid.UUID) -> Any:
    """The order's clocks: its own id, and ``<id>:<round>`` for later acceptance rounds."""
    return and_(
        SlaClock.subject_type == SUBJECT,
        or_(SlaClock.subject_id == str(order_id), SlaClock.subject_id.like(f"{order_id}:%")),
    )


async def clocks_of(session: AsyncSession, order_id: uuid.UUID) -> Sequence[SlaClock]:
    return (
        await session.scalars(
            select(SlaClock).where(_clock_subjects(order_id)).order_by(SlaClock.started_at)
        )
    ).all()


async def timeline(session: AsyncSession, order_id: uuid.UUID) -> Sequence[AuditEvent]:
    """The order's audit events and its change requests', oldest first."""
    change_ids = select(cast(OrderChangeRequest.id, String)).where(
        OrderChangeRequest.order_id == order_id
    )
    return (
        await session.scalars(
            select(AuditEvent)
            .where(
                or_(
                    and_(
                        AuditEvent.subject_type == SUBJECT,
                        AuditEvent.subject_id == str(order_id),
                    ),
                    and_(
                        AuditEvent.subject_type == CHANGE_SUBJECT,
                        AuditEvent.subject_id.in_(change_ids),
                    ),
                )
            )
            .order_by(AuditEvent.id)
        )
    ).all()


# ---------------------------------------------------------------- transitions


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    by: OrgKind
    title_zh: str
    needs_reason: bool = False
    also_by: tuple[OrgKind, ...] = field(default=())

    def may(self, kind: OrgKind) -> bool:
        return kind is self.by or kind in self.also_by


TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in (
        Transition("confirm", ("placed",), "confirmed", OrgKind.SUPPLIER, "供应商已确认订单"),
        Transition("ship", ("confirmed",), "shipped", OrgKind.SUPPLIER, "供应商已发货"),
        Transition("deliver", ("shipped",), "delivered", OrgKind.SUPPLIER, "货物已送达"),
        Transition(
            "request-acceptance",
            ("delivered", "acceptance_rejected"),
            "acceptance_requested",
            OrgKind.SUPPLIER,
            "供应商申请履约验收",
        ),
        Transition(
            "accept", ("acceptance_requested",), "accepted", OrgKind.PURCHASER, "采购单位验收通过"
        ),
        Transition(
            "reject-acceptance",
            ("acceptance_requested",),
            "acceptance_rejected",
            OrgKind.PURCHASER,
            "采购单位验收不通过",
            needs_reason=True,
        ),
        Transition("invoice", ("accepted",), "invoiced", OrgKind.SUPPLIER, "供应商已开具发票"),
        Transition(
            "receive-invoice",
            ("invoiced",),
            "invoice_received",
            OrgKind.PURCHASER,
            "采购单位已收到发票",
        ),
        Transition("pay", ("invoice_received",), "paid", OrgKind.PURCHASER, "采购单位已支付"),
        Transition(
            "complete", ("paid",), "completed", OrgKind.SUPPLIER, "供应商确认收款，订单完成"
        ),
        Transition(
            "cancel",
            ("placed",),
            "cancelled",
            OrgKind.PURCHASER,
            "订单已取消",
            needs_reason=True,
            also_by=(OrgKind.SUPPLIER,),
        ),
    )
}
ACTIONS = tuple(TRANSITIONS)
OPEN_CHANGE_STATUSES = ("submitted", "info_requested")
# Actions that end the order or take it past the point where a return or a
# termination can be made: they wait for an open change request's verification.
HELD_BY_OPEN_CHANGE = ("cancel", "pay", "complete")


def allowed_actions(order: PurchaseOrder, kind: OrgKind) -> list[str]:
    """What this kind of organisation (a party to the order) may do to it now."""
    return [t.action for t in TRANSITIONS.values() if order.status in t.sources and t.may(kind)]


@dataclass(frozen=True, slots=True)
class TransitionInput:
    reason: str | None = None
    invoice_number: str | None = None
    invoice_amount: Decimal | None = None
    invoice_issued_on: dt.date | None = None
    payment_reference: str | None = None
    paid_amount: Decimal | None = None


def _counterpart(order: PurchaseOrder, kind: OrgKind) -> uuid.UUID:
    return order.supplier_org_id if kind is OrgKind.PURCHASER else order.purchaser_org_id


def _same_as_total(order: PurchaseOrder, name: str, amount: Decimal | None) -> None:
    """An invoice or a payment is for the order's amount as it stands (after any
    approved return or termination); left out, it is that amount."""
    if amount is not None and amount != order.total_amount:
        raise InvalidError(
            f"The order's amount is CNY {order.total_amount}; {name} is {amount}.",
            code="order.amount_mismatch",
            title="金额与订单金额不符",
            errors=[_field(name, f"must equal the order's amount, {order.total_amount}")],
        )


def _paperwork(
    order: PurchaseOrder, action: str, data: TransitionInput, now: dt.datetime
) -> dict[str, Any]:
    """The invoice or the payment a transition records."""
    for name in ("invoice_amount", "paid_amount"):
        amount = getattr(data, name)
        if amount is not None and not (
            amount.is_finite() and 0 < amount <= MAX_TOTAL and amount == round(amount, 2)
        ):
            raise InvalidError(
                "Amounts are positive yuan with at most 2 decimal places.",
                code="order.invalid",
                title="金额无效",
                errors=[_field(name, "a positive amount in yuan, at most 2 decimal places")],
            )
    if action == "invoice":
        if not data.invoice_number:
            raise InvalidError(
                "Give the invoice number.",
                code="order.invoice_required",
                title="请填写发票号码",
                errors=[_field("invoice_number", "required")],
            )
        _same_as_total(order, "invoice_amount", data.invoice_amount)
        order.invoice_number = data.invoice_number
        order.invoice_amount = order.total_amount
        order.invoice_issued_on = data.invoice_issued_on or now.date()
        return {
            "invoice_number": order.invoice_number,
            "invoice_amount": order.invoice_amount,
            "invoice_issued_on": order.invoice_issued_on,
        }
    elif action == "pay":
        _same_as_total(order, "paid_amount", data.paid_amount)
        order.payment_reference = data.payment_reference
        order.paid_amount = order.total_amount
        return {"payment_reference": order.payment_reference, "paid_amount": order.paid_amount}
    return {}


async def _effects(
    session: AsyncSession,
    calendar: WorkCalendar,
    sla_settings: SlaSettings,
    order: PurchaseOrder,
    action: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """The clocks a transition starts or meets, and the stock a cancellation puts back."""
    if action == "confirm":
        for kind in ("order_confirmation", "contract"):
            await sla.meet(session, subject_type=SUBJECT, subject_id=order.id, kind=kind, at=now)
    elif action == "cancel":
        await close_open_clocks(session, order.id, now)
        changes = [(line, remaining(line)) for line in await lines_of(session, order.id)]
        for line, quantity in changes:
            line.cancelled_quantity += quantity
            line.amount = Decimal("0.00")
        restored = await restore_stock(session, changes)
        order.total_amount = Decimal("0.00")
        return {"stock_restored": restored}
    elif action == "request-acceptance":
        order.acceptance_round += 1
        await sla.start(
            session,
            calendar,
            sla_settings,
            subject_type=SUBJECT,
            subject_id=acceptance_subject(order),
            kind="acceptance",
            responsible_org_id=order.purchaser_org_id,
            started_at=now,
        )
    elif action in ("accept", "reject-acceptance"):
        await sla.meet(
            session,
            subject_type=SUBJECT,
            subject_id=acceptance_subject(order),
            kind="acceptance",
            at=now,
        )
    elif action == "receive-invoice":
        await sla.start(
            session,
            calendar,
            sla_settings,
            subject_type=SUBJECT,
            subject_id=await _next_payment_subject(session, order.id),
            kind="payment",
            responsible_org_id=order.purchaser_org_id,
            started_at=now,
        )
    elif action == "pay":
        await meet_open_clock(session, order.id, "payment", now)
    return {}


async def _next_payment_subject(session: AsyncSession, order_id: uuid.UUID) -> str:
    """The payment clock of the next invoice received: the order's own id for the
    first, ``<order id>:<n>`` for the n-th (an approved change voids an invoice)."""
    started = await session.scalar(
        select(func.count())
        .select_from(SlaClock)
        .where(_clock_subjects(order_id), SlaClock.kind == "payment")
    )
    return str(order_id) if not started else f"{order_id}:{started + 1}"


async def meet_open_clock(
    session: AsyncSession, order_id: uuid.UUID, kind: str, at: dt.datetime
) -> None:
    """Meet the order's running clock of this kind, if there is one."""
    clock = (
        await session.scalars(
            select(SlaClock).where(
                _clock_subjects(order_id), SlaClock.kind == kind, SlaClock.met_at.is_(None)
            )
        )
    ).first()
    if clock is not None:
        await sla.meet(
            session, subject_type=clock.subject_type, subject_id=clock.subject_id, kind=kind, at=at
        )


async def transition(
    session: AsyncSession,
    calendar: WorkCalendar,
    sla_settings: SlaSettings,
    principal: Principal,
    order_id: uuid.UUID,
    action: str,
    data: TransitionInput,
) -> PurchaseOrder:
    """Move the order on by ``action``, if this caller's side may do it now."""
    step = TRANSITIONS.get(action)
    if step is None:
        raise NotFoundError(
            f"Unknown action {action!r}; known: {', '.join(ACTIONS)}.",
            code="order.unknown_action",
            title="未知的订单操作",
        )
    order = await get_visible(session, principal, order_id, lock=True)
    if order.status not in step.sources or not step.may(principal.org_kind):
        allowed = allowed_actions(order, principal.org_kind)
        raise ConflictError(
            f"The order is {order.status}; {principal.org_kind.value} may "
            + (f"only {', '.join(allowed)}." if allowed else "do nothing to it now."),
            code="order.transition_not_allowed",
            title="订单当前状态不允许此操作",
            current_status=order.status,
            action=action,
            allowed=allowed,
        )
    if action in HELD_BY_OPEN_CHANGE:
        await _refuse_while_change_open(session, order, action)
    reason = (data.reason or "").strip() or None
    if step.needs_reason and not reason:
        raise InvalidError(
            "Give a reason.",
            code="order.reason_required",
            title="请填写原因",
            errors=[_field("reason", "required for this action")],
        )
    now = _now()
    before = order.status
    details = _paperwork(order, action, data, now)
    order.status = step.target
    order.status_changed_at = now
    if step.needs_reason:
        order.status_reason = reason

    details |= await _effects(session, calendar, sla_settings, order, action, now)

    await notify(
        session,
        org_id=_counterpart(order, principal.org_kind),
        kind=f"order.{step.target}",
        title_zh=f"{step.title_zh}：订单 {order.id}",
        title_en=f"Order {order.id} {step.target.replace('_', ' ')}",
        body_zh=reason or "",
        body_en=reason or "",
        subject=(SUBJECT, order.id),
    )
    await audit.record(
        session,
        actor=audit.Actor.of(principal),
        action=f"order.{step.target}",
        subject_type=SUBJECT,
        subject_id=order.id,
        before={"status": before},
        after={"status": order.status, **details},
        note=reason,
    )
    return order


async def _refuse_while_change_open(
    session: AsyncSession, order: PurchaseOrder, action: str
) -> None:
    """An open return or termination request is verified before the order may end.

    The order row is locked, and submitting a request locks it too, so no
    request can open between this check and the transition's commit."""
    open_id = await session.scalar(
        select(OrderChangeRequest.id)
        .where(
            OrderChangeRequest.order_id == order.id,
            OrderChangeRequest.status.in_(OPEN_CHANGE_STATUSES),
        )
        .order_by(OrderChangeRequest.submitted_at)
        .limit(1)
    )
    if open_id is not None:
        raise ConflictError(
            f"A change request for this order ({open_id}) is being verified; "
            f"{action} waits for the operator's decision.",
            code="order.change_request_open",
            title="该订单有待审核的退回或终止申请，暂不能进行此操作",
            change_request_id=str(open_id),
            action=action,
            current_status=order.status,
        )


def acceptance_subject(order: PurchaseOrder) -> str:
    """The acceptance clock of the current round (the first is the order's own id)."""
    if order.acceptance_round <= 1:
        return str(order.id)
    return f"{order.id}:{order.acceptance_round}"


def remaining(line: OrderLine) -> int:
    return line.quantity - line.cancelled_quantity - line.returned_quantity


async def close_open_clocks(session: AsyncSession, order_id: uuid.UUID, at: dt.datetime) -> None:
    """An order that ends early ends its promises too: open clocks are met at that time."""
    for clock in (
        await session.scalars(
            select(SlaClock).where(_clock_subjects(order_id), SlaClock.met_at.is_(None))
        )
    ).all():
        await sla.meet(
            session,
            subject_type=clock.subject_type,
            subject_id=clock.subject_id,
            kind=clock.kind,
            at=at,
        )


_RESTORE_SQL = text("UPDATE listing_revision SET stock = stock + :q WHERE id = :id")


async def restore_stock(
    session: AsyncSession, changes: Sequence[tuple[OrderLine, int]]
) -> dict[str, int]:
    """Give back the stock of (line, quantity) pairs, once the quantities have
    left the lines; returns the units given back per listing.

    Each revision gets back what it gave: the ordered revision the quantity,
    and a revision that was awaiting approval at the order the part of its
    taken units the line no longer needs (it keeps at most what remains on
    the line taken). A revision made after the order gave nothing and gets
    nothing. Updates run in listing order, the ordered revision first."""
    restored: dict[str, int] = {}
    steps: list[tuple[uuid.UUID, int, uuid.UUID, int]] = []
    for line, quantity in changes:
        if quantity <= 0:
            continue
        back_to_pending = line.pending_taken - min(line.pending_taken, remaining(line))
        steps.append((line.listing_id, 0, line.revision_id, quantity))
        if back_to_pending > 0 and line.pending_revision_id is not None:
            line.pending_taken -= back_to_pending
            steps.append((line.listing_id, 1, line.pending_revision_id, back_to_pending))
        restored[str(line.listing_id)] = restored.get(str(line.listing_id), 0) + quantity
    for _, _, revision_id, quantity in sorted(steps):
        await session.execute(_RESTORE_SQL, {"id": revision_id, "q": quantity})
    return restored
