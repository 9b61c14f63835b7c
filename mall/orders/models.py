"""Orders (the electronic contract), their lines, idempotency keys, and change
requests (returns and terminations)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

ORDER_STATUSES = (
    "placed",
    "confirmed",
    "shipped",
    "delivered",
    "acceptance_requested",
    "acceptance_rejected",
    "accepted",
    "invoiced",
    "invoice_received",
    "paid",
    "completed",
    "cancelled",
    "returned",
    "terminated",
)
FUNDING_SOURCES = ("fiscal", "self_raised", "mixed", "other")
CHANGE_TYPES = ("return", "termination")
CHANGE_REASONS = (
    "demand_changed",
    "funds_adjusted",
    "procurement_method_changed",
    "quality_issue",
    "wrong_item",
    "late_delivery",
    "other",
)
CHANGE_STATUSES = ("submitted", "info_requested", "approved", "rejected")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class PurchaseOrder(UUIDv7AuditBase):
    """A purchasing unit's order from one supplier: the electronic contract (电子合同)."""

    __tablename__ = "purchase_order"
    __table_args__ = (
        CheckConstraint(_in("status", ORDER_STATUSES), name="status_known"),
        CheckConstraint(_in("funding_source", FUNDING_SOURCES), name="funding_source_known"),
        CheckConstraint("total_amount >= 0", name="total_not_negative"),
        Index("ix_purchase_order_purchaser", "purchaser_org_id", "placed_at"),
        Index("ix_purchase_order_supplier", "supplier_org_id", "placed_at"),
        Index("ix_purchase_order_status", "status", "placed_at"),
        Index("ix_purchase_order_placed", "placed_at"),
        # Public disclosure, the OCDS export and spot checks read completed orders by
        # completion time (a completed order's last status change).
        Index(
            "ix_purchase_order_completed",
            "status_changed_at",
            "id",
            postgresql_where=text("status = 'completed'"),
        ),
    )

    purchaser_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    supplier_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    placed_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    status: Mapped[str] = mapped_column(String(24), default="placed")
    placed_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    delivery_address: Mapped[str] = mapped_column(String(500))
    contact_name: Mapped[str] = mapped_column(String(100))
    contact_phone: Mapped[str] = mapped_column(String(32))
    budget_code: Mapped[str] = mapped_column(String(64))
    funding_source: Mapped[str] = mapped_column(String(16))
    requested_delivery_date: Mapped[dt.date | None] = mapped_column(Date, default=None)
    # The unit's remarks for the supplier (备注).
    note: Mapped[str | None] = mapped_column(Text, default=None)
    total_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # Starts at 1; a rejected acceptance and a new request make round 2, and so on.
    acceptance_round: Mapped[int] = mapped_column(Integer, default=0)
    # The last reason given for a cancellation or a rejected acceptance.
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # The supplier's invoice (发票) and the purchaser's payment.
    invoice_number: Mapped[str | None] = mapped_column(String(64), default=None)
    invoice_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    invoice_issued_on: Mapped[dt.date | None] = mapped_column(Date, default=None)
    payment_reference: Mapped[str | None] = mapped_column(String(64), default=None)
    paid_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)


class OrderLine(UUIDv7AuditBase):
    """One listing in an order, with the approved revision's title, price and unit at order time."""

    __tablename__ = "order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "line_no", name="uq_order_line_number"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "cancelled_quantity >= 0 AND returned_quantity >= 0"
            " AND cancelled_quantity + returned_quantity <= quantity",
            name="changed_within_quantity",
        ),
        CheckConstraint(
            "pending_taken >= 0 AND pending_taken <= quantity", name="pending_taken_within_quantity"
        ),
        Index("ix_order_line_listing", "listing_id"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchase_order.id", ondelete="CASCADE"), index=True
    )
    line_no: Mapped[int] = mapped_column(Integer)
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listing.id"))
    revision_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listing_revision.id"))
    category_code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(8))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    quantity: Mapped[int] = mapped_column(Integer)
    # A newer revision of the listing awaiting approval when the order was
    # placed, and the units taken off its stock for this line and not yet given
    # back (never more than it had, nor than remain on the line).
    pending_revision_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("listing_revision.id"), default=None
    )
    pending_taken: Mapped[int] = mapped_column(Integer, default=0)
    # Taken out of the order by an approved termination or return.
    cancelled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0)
    # unit_price × (quantity − cancelled − returned)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class OrderIdempotencyKey(UUIDv7AuditBase):
    """An ``Idempotency-Key`` a purchasing unit used, the request it came with and its order."""

    __tablename__ = "order_idempotency_key"
    __table_args__ = (UniqueConstraint("purchaser_org_id", "key", name="uq_order_idempotency_key"),)

    purchaser_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_sha256: Mapped[str] = mapped_column(String(64))
    # Set in the same transaction, once the order exists.
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("purchase_order.id", ondelete="CASCADE"), default=None
    )


class OrderChangeRequest(UUIDv7AuditBase):
    """A return (合同订单退回) or a termination (项目终止) asked for by the purchasing unit,
    verified by an operator within 1 working day."""

    __tablename__ = "order_change_request"
    __table_args__ = (
        CheckConstraint(_in("type", CHANGE_TYPES), name="type_known"),
        CheckConstraint(_in("reason", CHANGE_REASONS), name="reason_known"),
        CheckConstraint(_in("status", CHANGE_STATUSES), name="status_known"),
        CheckConstraint(_in("scope", ("order", "lines")), name="scope_known"),
        Index("ix_order_change_request_order", "order_id", "submitted_at"),
        Index("ix_order_change_request_status", "status", "submitted_at"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("purchase_order.id", ondelete="CASCADE"))
    purchaser_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    supplier_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisation.id"))
    type: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(8))
    # [{"line_id", "line_no", "quantity"}]; every line's remaining quantity when scope = order.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    reason: Mapped[str] = mapped_column(String(32))
    explanation: Mapped[str] = mapped_column(Text)
    # [{"name", "url"}]
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    submitted_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id"))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTimeUTC(timezone=True))
    # [{"org_id", "org_kind", "user_id", "at", "text"}]: the supplier's say, the unit's answers.
    comments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    info_request: Mapped[str | None] = mapped_column(Text, default=None)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id"), default=None)
    rejection_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # What the approval changed: the amount before and after, stock restored per listing.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
