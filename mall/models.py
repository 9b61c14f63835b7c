"""Every table of the mall, imported in one place for Alembic and the tests."""

from advanced_alchemy.base import orm_registry

from mall.audit.models import AuditEvent
from mall.auth.models import ApiToken, Organisation, User, supplier_category
from mall.jobs.models import OutboxJob
from mall.notifications.models import Notification

metadata = orm_registry.metadata

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Notification",
    "Organisation",
    "OutboxJob",
    "User",
    "metadata",
    "supplier_category",
]
