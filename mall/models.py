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
from catalog.search.models import SearchSynonym, search_dirty, search_document
from mall.audit.models import AuditCheckpoint, AuditEvent
from mall.auth.models import (
    ApiToken,
    Organisation,
    User,
    revoked_access_token,
    supplier_category,
)
from mall.calendar.models import CalendarYear
from mall.cases.models import Case, CaseAttachment, CaseMessage
from mall.jobs.models import FailedJob, OutboxJob
from mall.notifications.models import Notification
from mall.orders.models import (
    OrderChangeRequest,
    OrderIdempotencyKey,
    OrderLine,
    PurchaseOrder,
)
from mall.penalties.models import Penalty, PenaltyKind
from mall.sla.models import SlaClock, SlaClockPause
from mall.spotchecks.models import SpotCheck, SpotCheckItem
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
    ObservationImport,
    PriceObservation,
    PriceScan,
    PriceViolation,
)

metadata = orm_registry.metadata

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "BrandAlias",
    "CalendarYear",
    "Case",
    "CaseAttachment",
    "CaseMessage",
    "Category",
    "CommitmentAcceptance",
    "CreditListEntry",
    "FailedJob",
    "Listing",
    "ListingImage",
    "ListingRevision",
    "MarketBaseline",
    "MarketBaselineChange",
    "Notification",
    "ObservationImport",
    "OperatorCase",
    "OrderChangeRequest",
    "OrderIdempotencyKey",
    "OrderLine",
    "Organisation",
    "OutboxJob",
    "Penalty",
    "PenaltyKind",
    "PriceObservation",
    "PriceScan",
    "PriceViolation",
    "PurchaseOrder",
    "ReviewDecision",
    "SearchSynonym",
    "SlaClock",
    "SlaClockPause",
    "SpotCheck",
    "SpotCheckItem",
    "StoredRuleset",
    "SupplierApplication",
    "SupplierDocument",
    "User",
    "metadata",
    "revoked_access_token",
    "search_dirty",
    "search_document",
    "supplier_category",
]
