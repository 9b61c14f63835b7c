"""document validity start; spot-check reveal time and audit beacon

Revision ID: 0014_domain
Revises: 0013
Create Date: 2026-12-01 20:50:00+00:00

A supplier document gets the first day it counts (``valid_from``; existing
rows: their upload day in Beijing time). A spot check gets the time fixed at
commit from which it may be revealed (``reveal_after``) and the audit-chain
head at that time (``beacon_audit_id``, ``beacon_hash``) that its draw mixes
with the seed; draws committed before this revision and not yet revealed may
be revealed an hour after their commit.
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types.datetime
import sqlalchemy as sa
from alembic import op

revision: str = "0014_domain"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("supplier_document", sa.Column("valid_from", sa.Date(), nullable=True))
    op.execute(
        "UPDATE supplier_document SET valid_from = LEAST("
        "(created_at AT TIME ZONE 'Asia/Shanghai')::date, valid_until)"
    )
    op.alter_column("supplier_document", "valid_from", nullable=False)
    op.create_check_constraint(
        op.f("ck_supplier_document_validity_ordered"),
        "supplier_document",
        "valid_from <= valid_until",
    )

    op.add_column(
        "spot_check",
        sa.Column(
            "reveal_after",
            advanced_alchemy.types.datetime.DateTimeUTC(timezone=True),
            nullable=True,
        ),
    )
    op.add_column("spot_check", sa.Column("beacon_audit_id", sa.BigInteger(), nullable=True))
    op.add_column("spot_check", sa.Column("beacon_hash", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE spot_check SET reveal_after = created_at + interval '1 hour'"
        " WHERE status = 'committed'"
    )


def downgrade() -> None:
    op.drop_column("spot_check", "beacon_hash")
    op.drop_column("spot_check", "beacon_audit_id")
    op.drop_column("spot_check", "reveal_after")
    op.drop_constraint(
        op.f("ck_supplier_document_validity_ordered"), "supplier_document", type_="check"
    )
    op.drop_column("supplier_document", "valid_from")
