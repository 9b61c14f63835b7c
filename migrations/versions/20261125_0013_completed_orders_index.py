"""completed orders by completion time

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 01:26:51.238049+00:00

Public disclosure, the OCDS export and spot checks read completed orders by
their completion time (a completed order's last status change).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_purchase_order_completed",
        "purchase_order",
        ["status_changed_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'completed'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_purchase_order_completed",
        table_name="purchase_order",
        postgresql_where=sa.text("status = 'completed'"),
    )
