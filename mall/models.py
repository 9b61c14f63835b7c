"""Every table of the mall, imported in one place for Alembic and the tests."""

from advanced_alchemy.base import orm_registry

from catalog.models import (
    Category,
    Listing,
    ListingImage,
    ListingRevision,
    ReviewDecision,
    StoredRuleset,
)
from mall.audit.models import AuditEvent
from mall.auth.models import ApiToken, Organisation, User, supplier_category
from mall.calendar.models import CalendarYear
from mall.jobs.models import OutboxJob
from mall.notifications.models import Notification
from mall.orders.models import (
    OrderChangeRequest,
    OrderIdempotencyKey,
    OrderLine,
    PurchaseOrder,
)
from mall.sla.models import SlaClock, SlaClockPause
from mall.suppliers.models import (
    CommitmentAcceptance,
    CreditListEntry,
    OperatorCase,
    SupplierApplication,
    SupplierDocument,
)
from pricing_monitor.models import (
    BrandAlias,
    MarketBaseline,
    MarketBaselineChange,
    PriceObservation,
    PriceScan,
    PriceViolation,
)

metadata = orm_registry.metadata

__all__ = [
    "ApiToken",
    "AuditEvent",
    "BrandAlias",
    "CalendarYear",
    "Category",
    "CommitmentAcceptance",
    "CreditListEntry",
    "Listing",
    "ListingImage",
    "ListingRevision",
    "MarketBaseline",
    "MarketBaselineChange",
    "Notification",
    "OperatorCase",
    "OrderChangeRequest",
    "OrderIdempotencyKey",
    "OrderLine",
    "Organisation",
    "OutboxJob",
    "PriceObservation",
    "PriceScan",
    "PriceViolation",
    "PurchaseOrder",
    "ReviewDecision",
    "SlaClock",
    "SlaClockPause",
    "StoredRuleset",
    "SupplierApplication",
    "SupplierDocument",
    "User",
    "metadata",
    "supplier_category",
]
